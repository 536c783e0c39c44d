// asio_peer: Boost.Asio connects per second to host:port, K async_connect
// chains in flight on one io_context thread; each connected socket is closed
// with SO_LINGER {1,0} and its chain starts the next connect.
// Usage: asio_peer host port K duration_seconds -> connects_per_sec=<float>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Bench {
  asio::io_context io;
  tcp::endpoint target;
  Clock::time_point end;
  long connects = 0, errors = 0;

  void Start() {
    auto s = std::make_shared<tcp::socket>(io);
    s->async_connect(target, [this, s](const boost::system::error_code& ec) {
      if (ec) {
        ++errors;
      } else {
        ++connects;
        boost::system::error_code ignored;
        s->set_option(asio::socket_base::linger(true, 0), ignored);
      }
      s->close();
      Start();
    });
  }
};

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s host port K duration_seconds\n", argv[0]);
    return 2;
  }
  Bench b;
  b.target = tcp::endpoint(asio::ip::make_address(argv[1]), std::atoi(argv[2]));
  auto start = Clock::now();
  b.end = start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(std::atof(argv[4])));
  for (int i = 0, k = std::atoi(argv[3]); i < k; ++i) b.Start();
  double secs = 0;
  long connects = 0;
  asio::steady_timer stop(b.io, b.end);
  stop.async_wait([&](const boost::system::error_code&) {
    secs = std::chrono::duration<double>(Clock::now() - start).count();
    connects = b.connects;
    b.io.stop();
  });
  b.io.run();
  if (b.errors) std::fprintf(stderr, "asio_peer: %ld errors\n", b.errors);
  std::printf("connects_per_sec=%.1f\n", connects / secs);
}
