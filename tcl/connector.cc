// tcl/connector.cc: the process's Connector and its exit handler.

#include "tcl/connector.h"

#include <tcl.h>

#include <atomic>
#include <mutex>

namespace tether_tcl {
namespace {

std::mutex g_mu;
std::shared_ptr<tether::Connector> g_connector;  // guarded by g_mu
bool g_exit_handler = false;                     // guarded by g_mu
// Written by OnExit() only; read by completions on tether's threads.
std::atomic<bool> g_finalizing{false};

// Tcl exit handler: drops the process's Connector. The last holder destroys
// it, which cancels pending connects and joins the workers.
void OnExit(ClientData) {
  std::shared_ptr<tether::Connector> dying;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    // release: a completion that reads true (acquire, Finalizing()) during
    // the cancellations below queues no event.
    g_finalizing.store(true, std::memory_order_release);
    dying.swap(g_connector);
    g_exit_handler = false;
  }
  dying.reset();  // cancels what is pending; joins the workers
  std::lock_guard<std::mutex> lock(g_mu);
  // release: pairs with the acquire in Finalizing(); the cancelled
  // completions have all run by now.
  g_finalizing.store(false, std::memory_order_release);
}

}  // namespace

std::shared_ptr<tether::Connector> SharedConnector() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (Finalizing()) return nullptr;
  if (g_connector == nullptr) {
    g_connector = std::make_shared<tether::Connector>();
    if (!g_exit_handler) {
      Tcl_CreateExitHandler(OnExit, nullptr);
      g_exit_handler = true;
    }
  }
  return g_connector;
}

bool Finalizing() {
  // acquire: pairs with the release stores in OnExit().
  return g_finalizing.load(std::memory_order_acquire);
}

tether::ConnectorStats SharedStats() {
  std::shared_ptr<tether::Connector> connector;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    connector = g_connector;
  }
  return connector == nullptr ? tether::ConnectorStats{} : connector->stats();
}

}  // namespace tether_tcl
