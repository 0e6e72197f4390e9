#pragma once

namespace harmony {

// Tells systemd (Type=notify units) that the daemon serves now, or that it is shutting down.
// Without NOTIFY_SOCKET (not started by systemd) both do nothing.
void notify_ready();
void notify_stopping();

}  // namespace harmony
