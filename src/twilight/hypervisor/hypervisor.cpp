#include "twilight/hypervisor/hypervisor.hpp"

namespace harmony::twilight {

std::string_view to_string(DomainState state) {
  switch (state) {
    case DomainState::running:
      return "running";
    case DomainState::stopped:
      return "stopped";
    case DomainState::paused:
      return "paused";
    case DomainState::crashed:
      return "crashed";
  }
  return "?";
}

std::string_view to_string(LifecycleKind kind) {
  switch (kind) {
    case LifecycleKind::defined:
      return "defined";
    case LifecycleKind::undefined:
      return "undefined";
    case LifecycleKind::started:
      return "started";
    case LifecycleKind::stopped:
      return "stopped";
    case LifecycleKind::crashed:
      return "crashed";
    case LifecycleKind::paused:
      return "paused";
    case LifecycleKind::resumed:
      return "resumed";
  }
  return "?";
}

}  // namespace harmony::twilight
