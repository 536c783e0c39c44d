// raw_peer: the raw limit. Connects per second to host:port with plain system
// calls on one thread: K=1 is a blocking connect+close loop; K>1 keeps K
// non-blocking connects in flight on an epoll loop. Every connected socket is
// closed with SO_LINGER {1,0}.
// Usage: raw_peer host port K duration_seconds -> connects_per_sec=<float>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

using Clock = std::chrono::steady_clock;
static sockaddr_in addr;

static void CloseLinger(int fd) {
  const linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

static long Blocking(Clock::time_point end, long* errors) {
  long n = 0;
  while (Clock::now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      ++n;
    } else {
      ++*errors;
    }
    CloseLinger(fd);
  }
  return n;
}

static long Epoll(int k, Clock::time_point end, long* errors) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long n = 0;
  auto start_one = [&] {
    while (Clock::now() < end) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
          errno != EINPROGRESS) {
        ++*errors;
        close(fd);
        continue;
      }
      epoll_event ev{};  // EPOLLOUT also fires at once for a completed connect
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      return;
    }
  };
  for (int i = 0; i < k; ++i) start_one();
  epoll_event evs[256];
  while (Clock::now() < end) {
    int m = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < m; ++i) {
      int fd = evs[i].data.fd, err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      err == 0 ? ++n : ++*errors;
      CloseLinger(fd);
      start_one();
    }
  }
  return n;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s host port K duration_seconds\n", argv[0]);
    return 2;
  }
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::atoi(argv[2]));
  inet_pton(AF_INET, argv[1], &addr.sin_addr);
  int k = std::atoi(argv[3]);
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(std::atof(argv[4])));
  long errors = 0;
  long n = k <= 1 ? Blocking(end, &errors) : Epoll(k, end, &errors);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (errors) std::fprintf(stderr, "raw_peer: %ld errors\n", errors);
  std::printf("connects_per_sec=%.1f\n", n / secs);
}
