# One DEB and one RPM per daemon (harmony-sparkle, harmony-twilight, harmony-luna,
# harmony-rainbow), built by CPack from the normal build tree: `cpack -G "DEB;RPM"` in it
# (scripts/package). No shared package: every daemon links harmony_common statically and ships
# its own configuration, so there is nothing they would share on disk.
#
# Layout (everything relative to /, hence CPACK_PACKAGING_INSTALL_PREFIX "/"):
#   usr/bin/<daemon>                                   the stripped binary
#   usr/share/man/man8/<daemon>.8.gz                   a short manual page
#   etc/<daemon>/<daemon>.conf                         commented defaults (conffile / %config(noreplace))
#   usr/lib/systemd/system/<daemon>.service            hardened unit, never enabled by the package
#   usr/lib/tmpfiles.d/<daemon>.conf                   /var/lib/<daemon> and /run/<daemon>
#   usr/share/doc/harmony-<daemon>/                    copyright, changelog, install.md
#   usr/share/sparkle/sql/                             migrations, for reference (sparkle embeds them)
#   usr/share/harmony/rainbow/web/                     the built web application (web/dist), if built
set(HARMONY_DAEMONS sparkle twilight luna rainbow)
# Daemons that need no root get their own system user; twilight and luna run as root with a
# reduced capability set (see their units).
set(HARMONY_SYSTEM_USER_sparkle sparkle)
set(HARMONY_SYSTEM_USER_rainbow rainbow)
set(HARMONY_PACKAGE_MAINTAINER "Harmony developers <harmony@example.org>")
set(HARMONY_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(HARMONY_PACKAGING_OUT ${PROJECT_BINARY_DIR}/packaging)
set(HARMONY_DEB_VERSION "${PROJECT_VERSION}-1")

find_program(GZIP_PROGRAM gzip REQUIRED)

foreach(daemon ${HARMONY_DAEMONS})
  set(DAEMON ${daemon})
  set(SYSTEM_USER "${HARMONY_SYSTEM_USER_${daemon}}")
  if(SYSTEM_USER)
    set(DIR_OWNER ${SYSTEM_USER})
    set(DEB_CREATE_USER "if ! getent passwd ${SYSTEM_USER} >/dev/null; then
        adduser --system --group --quiet --home /var/lib/${daemon} --no-create-home \\
            --gecos \"Harmony ${daemon}\" ${SYSTEM_USER}
    fi")
  else()
    set(DIR_OWNER root)
    set(DEB_CREATE_USER ": # runs as root, see ${daemon}.service")
  endif()
  set(DEB_VERSION ${HARMONY_DEB_VERSION})
  set(MAINTAINER "${HARMONY_PACKAGE_MAINTAINER}")
  set(out ${HARMONY_PACKAGING_OUT}/${daemon})
  file(MAKE_DIRECTORY ${out}/deb ${out}/rpm)

  foreach(script postinst prerm postrm)
    configure_file(${HARMONY_PACKAGING_DIR}/deb/${script}.in ${out}/deb/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
  endforeach()
  # dpkg keeps an operator's edits to these on upgrade. A daemon whose default configuration is
  # not written yet ships none; adding one re-runs cmake through the folder's timestamp.
  set(control_extra ${out}/deb/postinst ${out}/deb/prerm ${out}/deb/postrm)
  if(EXISTS ${HARMONY_PACKAGING_DIR}/etc/${daemon}/${daemon}.conf)
    file(WRITE ${out}/deb/conffiles "/etc/${daemon}/${daemon}.conf\n")
    list(APPEND control_extra ${out}/deb/conffiles)
  endif()
  set(HARMONY_DEB_CONTROL_EXTRA_${daemon} ${control_extra})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${HARMONY_PACKAGING_DIR}/etc/${daemon})
  foreach(script pre post preun postun)
    configure_file(${HARMONY_PACKAGING_DIR}/rpm/${script}.in ${out}/rpm/${script} @ONLY)
  endforeach()
  configure_file(${HARMONY_PACKAGING_DIR}/man/${daemon}.8 ${out}/${daemon}.8 COPYONLY)
  execute_process(COMMAND ${GZIP_PROGRAM} -9nf ${out}/${daemon}.8)
  configure_file(${HARMONY_PACKAGING_DIR}/deb/changelog.in ${out}/changelog.Debian @ONLY)
  execute_process(COMMAND ${GZIP_PROGRAM} -9nf ${out}/changelog.Debian)

  # These packages are not uploaded to Debian, so there is no ITP bug for the changelog to close.
  file(WRITE ${out}/lintian-overrides
       "harmony-${daemon}: initial-upload-closes-no-bugs [usr/share/doc/harmony-${daemon}/changelog.Debian.gz:1]\n")
  install(FILES ${out}/lintian-overrides DESTINATION usr/share/lintian/overrides
          RENAME harmony-${daemon} COMPONENT ${daemon})

  install(TARGETS ${daemon} RUNTIME DESTINATION usr/bin COMPONENT ${daemon})
  install(FILES ${HARMONY_PACKAGING_DIR}/etc/${daemon}/${daemon}.conf DESTINATION etc/${daemon}
          COMPONENT ${daemon} OPTIONAL)
  install(FILES ${out}/${daemon}.8.gz DESTINATION usr/share/man/man8 COMPONENT ${daemon})
  install(FILES ${HARMONY_PACKAGING_DIR}/systemd/${daemon}.service DESTINATION usr/lib/systemd/system
          COMPONENT ${daemon})
  install(FILES ${HARMONY_PACKAGING_DIR}/tmpfiles/${daemon}.conf DESTINATION usr/lib/tmpfiles.d
          COMPONENT ${daemon})
  install(FILES ${HARMONY_PACKAGING_DIR}/deb/copyright ${out}/changelog.Debian.gz
                ${PROJECT_SOURCE_DIR}/docs/install.md
          DESTINATION usr/share/doc/harmony-${daemon} COMPONENT ${daemon} OPTIONAL)
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/sql/ DESTINATION usr/share/sparkle/sql COMPONENT sparkle
        FILES_MATCHING PATTERN "[0-9][0-9][0-9]_*.sql")
# Built by Vite outside CMake (scripts/package builds it when npm is there); packaged when present.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/dist/ DESTINATION usr/share/harmony/rainbow/web
        COMPONENT rainbow OPTIONAL)

set(CPACK_PACKAGE_NAME harmony)
set(CPACK_PACKAGE_VENDOR "Harmony")
set(CPACK_PACKAGE_CONTACT "${HARMONY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would prepend it to every package's own summary.
set(CPACK_PACKAGING_INSTALL_PREFIX "/")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_COMPONENTS_ALL ${HARMONY_DAEMONS})
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/_CPack)

set(HARMONY_SUMMARY_sparkle "Harmony cloud controller (REST API, scheduler, agent hub)")
set(HARMONY_SUMMARY_twilight "Harmony compute agent (libvirt, storage, networks)")
set(HARMONY_SUMMARY_luna "Harmony boot (PXE via dnsmasq) and fencing agent")
set(HARMONY_SUMMARY_rainbow "Harmony web dashboard")
# Lines under 80 columns: Debian shows them as they are.
set(HARMONY_DESCRIPTION_sparkle
    "Sparkle keeps the desired and current state of hosts, networks, storage,
volumes, instances, images, users and tenants in PostgreSQL, serves the
REST API and commands the compute agents.")
set(HARMONY_DESCRIPTION_twilight
    "Twilight runs on every compute host: it converges libvirt domains, disks
and networks to the desired state Sparkle sends, and reports what runs.")
set(HARMONY_DESCRIPTION_luna
    "Luna network-boots compute hosts through dnsmasq (DHCP and TFTP) and
fences failed hosts with fence agents before their instances move.")
set(HARMONY_DESCRIPTION_rainbow
    "Rainbow serves the Harmony web application and forwards its API calls
to Sparkle.")

# Debian: library dependencies from dpkg-shlibdeps; the rest by name.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_SPARKLE_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SPARKLE_PACKAGE_RECOMMENDS "postgresql (>= 15)")
set(CPACK_DEBIAN_TWILIGHT_PACKAGE_DEPENDS "qemu-utils, genisoimage")
set(CPACK_DEBIAN_TWILIGHT_PACKAGE_RECOMMENDS "libvirt-daemon-system, qemu-system-x86")
set(CPACK_DEBIAN_LUNA_PACKAGE_DEPENDS "dnsmasq-base")
set(CPACK_DEBIAN_LUNA_PACKAGE_RECOMMENDS "fence-agents, ipxe")
set(CPACK_DEBIAN_RAINBOW_PACKAGE_DEPENDS "adduser")

# RPM: rpmbuild finds the library dependencies itself (sonames); the rest by name. Weak
# dependencies (PostgreSQL server, libvirt-daemon-kvm, fence-agents-all) are in docs/install.md:
# CPack cannot write Recommends for RPM.
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_LICENSE "Unchosen")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_URL "https://example.org/harmony")
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
# rpmbuild fills the Packager tag from this macro (CPack has no variable for it). No
# /usr/lib/.build-id links: without debuginfo packages they only add directories to own.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define packager ${HARMONY_PACKAGE_MAINTAINER}
%define _build_id_links none")
set(CPACK_RPM_PACKAGE_AUTOPROV OFF)
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /etc /usr/lib/systemd /usr/lib/systemd/system /usr/lib/tmpfiles.d /usr/share/doc /usr/share/harmony
    /usr/share/lintian /usr/share/lintian/overrides /usr/share/man /usr/share/man/man8)
set(CPACK_RPM_SPARKLE_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_TWILIGHT_PACKAGE_REQUIRES "qemu-img, genisoimage")
set(CPACK_RPM_LUNA_PACKAGE_REQUIRES "dnsmasq")
set(CPACK_RPM_RAINBOW_PACKAGE_REQUIRES_PRE "shadow-utils")

foreach(daemon ${HARMONY_DAEMONS})
  string(TOUPPER ${daemon} COMP)
  set(out ${HARMONY_PACKAGING_OUT}/${daemon})
  set(CPACK_DEBIAN_${COMP}_PACKAGE_NAME harmony-${daemon})
  set(CPACK_RPM_${COMP}_PACKAGE_NAME harmony-${daemon})
  set(CPACK_COMPONENT_${COMP}_DESCRIPTION "${HARMONY_SUMMARY_${daemon}}\n${HARMONY_DESCRIPTION_${daemon}}")
  set(CPACK_RPM_${COMP}_PACKAGE_SUMMARY "${HARMONY_SUMMARY_${daemon}}")
  set(CPACK_RPM_${COMP}_PACKAGE_DESCRIPTION "${HARMONY_DESCRIPTION_${daemon}}")
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA "${HARMONY_DEB_CONTROL_EXTRA_${daemon}}")
  set(CPACK_RPM_${COMP}_PRE_INSTALL_SCRIPT_FILE ${out}/rpm/pre)
  set(CPACK_RPM_${COMP}_POST_INSTALL_SCRIPT_FILE ${out}/rpm/post)
  set(CPACK_RPM_${COMP}_PRE_UNINSTALL_SCRIPT_FILE ${out}/rpm/preun)
  set(CPACK_RPM_${COMP}_POST_UNINSTALL_SCRIPT_FILE ${out}/rpm/postun)
  if(EXISTS ${HARMONY_PACKAGING_DIR}/etc/${daemon}/${daemon}.conf)
    set(CPACK_RPM_${COMP}_USER_FILELIST "%config(noreplace) /etc/${daemon}/${daemon}.conf"
        "%dir /etc/${daemon}")
  endif()
endforeach()

include(CPack)
