#include "common/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

namespace harmony {

void notify_ready() {
  sd_notify(0, "READY=1");
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1");
}

}  // namespace harmony
