/*
 * LD_PRELOAD shim for tests/faults/test_durability.py: records, in one global order,
 * when the SQLite WAL is made durable and when HTTP requests and responses cross the
 * socket, so the test can check "fsync/fdatasync of the WAL completed before the first
 * byte of every 200 from validate" (kill -9 cannot tell synchronous=FULL from OFF: the
 * page cache survives the process).
 *
 * Build: cc -shared -fPIC -O2 -o shim.so fsync_shim.c -ldl
 * Environment:
 *   FSYNC_SHIM_LOG=PATH      append one line per event to PATH (required; without it the
 *                            shim only passes calls through)
 *   FSYNC_SHIM_DROP_SYNC=1   self-check mode: fsync/fdatasync of a "-wal" file returns 0
 *                            WITHOUT syncing and WITHOUT a log line (what synchronous=OFF
 *                            looks like to the checker); the test expects violations then.
 *
 * Events (one line each, written with a single write(2) to an O_APPEND file):
 *   <seq> <ns> <tid> SYNC <fd> <fsync|fdatasync> <ret> <path>     after the call returned
 *   <seq> <ns> <tid> WALW <fd> <bytes> <path>                     pwrite/write to *-wal, after
 *   <seq> <ns> <tid> RECV <fd> <bytes> <METHOD> <target>         socket read whose buffer starts
 *                                                                 with a request line, after
 *   <seq> <ns> <tid> SEND <fd> <status>                           socket write of a buffer
 *                                                                 starting "HTTP/1.1 ", BEFORE
 *                                                                 the call (its first byte)
 * <seq> comes from one atomic counter taken at the moment the event is placed in time (after
 * a sync/read completed, before a response write started), so seq order is a happens-before
 * order; lines may land in the file slightly out of seq order, the reader sorts them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static int drop_sync = 0;
static uint64_t seq_counter = 0;

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void*, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static ssize_t (*real_send)(int, const void*, size_t, int);
static ssize_t (*real_sendto)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr*, int);
static ssize_t (*real_read)(int, void*, size_t);
static ssize_t (*real_readv)(int, const struct iovec*, int);
static ssize_t (*real_recv)(int, void*, size_t, int);
static ssize_t (*real_recvfrom)(int, void*, size_t, int, struct sockaddr*, socklen_t*);
static ssize_t (*real_recvmsg)(int, struct msghdr*, int);

#define RESOLVE(name) \
  do { \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name); \
  } while (0)

static void resolve_all(void) {
  RESOLVE(fsync);
  RESOLVE(fdatasync);
  RESOLVE(write);
  RESOLVE(pwrite);
  RESOLVE(pwrite64);
  RESOLVE(writev);
  RESOLVE(send);
  RESOLVE(sendto);
  RESOLVE(sendmsg);
  RESOLVE(read);
  RESOLVE(readv);
  RESOLVE(recv);
  RESOLVE(recvfrom);
  RESOLVE(recvmsg);
}

__attribute__((constructor)) static void shim_init(void) {
  resolve_all();
  const char* path = getenv("FSYNC_SHIM_LOG");
  const char* drop = getenv("FSYNC_SHIM_DROP_SYNC");
  drop_sync = drop != NULL && drop[0] != '\0' && drop[0] != '0';
  if (path != NULL && path[0] != '\0') {
    log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }
}

static uint64_t next_seq(void) { return __atomic_add_fetch(&seq_counter, 1, __ATOMIC_SEQ_CST); }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One line, one write(2) on an O_APPEND descriptor: lines never interleave. */
static void emit(uint64_t seq, const char* fmt, ...) {
  if (log_fd < 0) return;
  int saved = errno;
  char line[640];
  int n = snprintf(line, sizeof line, "%llu %llu %ld ", (unsigned long long)seq, (unsigned long long)now_ns(),
                   (long)syscall(SYS_gettid));
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  if ((size_t)(n + m) > sizeof line - 2) m = (int)(sizeof line - 2) - n;
  line[n + m] = '\n';
  ssize_t (*w)(int, const void*, size_t) = real_write ? real_write : dlsym(RTLD_NEXT, "write");
  (void)w(log_fd, line, (size_t)(n + m + 1));
  errno = saved;
}

static int fd_path(int fd, char* out, size_t cap) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, cap - 1);
  if (n < 0) return -1;
  out[n] = '\0';
  return 0;
}

static int ends_with_wal(const char* p) {
  size_t n = strlen(p);
  return n >= 4 && strcmp(p + n - 4, "-wal") == 0;
}

static int is_wal_fd(int fd, char* path, size_t cap) {
  if (fd < 0 || fd == log_fd) return 0;
  if (fd_path(fd, path, cap) != 0) return 0;
  return ends_with_wal(path);
}

static int is_socket(int fd) {
  struct stat st;
  if (fd < 0 || fd == log_fd) return 0;
  if (fstat(fd, &st) != 0) return 0;
  return S_ISSOCK(st.st_mode);
}

/* The first `want` bytes of an iovec array (at most `limit` bytes in total). */
static size_t gather(const struct iovec* iov, int iovcnt, size_t limit, char* out, size_t want) {
  size_t got = 0;
  for (int i = 0; i < iovcnt && got < want && got < limit; ++i) {
    size_t take = iov[i].iov_len;
    if (take > want - got) take = want - got;
    if (take > limit - got) take = limit - got;
    memcpy(out + got, iov[i].iov_base, take);
    got += take;
  }
  return got;
}

static const char kResponse[] = "HTTP/1.1 ";
enum { kHead = 96 };

/* Logs a socket read whose data starts with an HTTP request line ("METHOD /target "):
 * every request, not only validates, so each response can be paired with its request. */
static void on_socket_read(int fd, const char* head, size_t n, ssize_t ret) {
  if (ret <= 0 || n < 5) return;
  size_t i = 0;
  while (i < n && i < 16 && head[i] >= 'A' && head[i] <= 'Z') ++i;
  if (i == 0 || i >= n || head[i] != ' ' || i + 1 >= n || head[i + 1] != '/') return;
  char line[kHead + 1];
  size_t j = 0;
  for (; j < n && j < kHead; ++j) {
    char c = head[j];
    if (c == '?' || c == '\r' || c == '\n' || (c == ' ' && j > i)) break;
    line[j] = (c > ' ' && c < 127) || c == ' ' ? c : '_';
  }
  line[j] = '\0';
  emit(next_seq(), "RECV %d %zd %s", fd, ret, line);
}

/* Called before a socket write: logs a response's first byte. */
static void on_socket_write(int fd, const char* head, size_t n) {
  if (n < sizeof kResponse - 1 + 3) return;
  if (memcmp(head, kResponse, sizeof kResponse - 1) != 0) return;
  char status[4];
  memcpy(status, head + sizeof kResponse - 1, 3);
  status[3] = '\0';
  emit(next_seq(), "SEND %d %s", fd, status);
}

static int do_sync(int fd, int (*fn)(int), const char* name) {
  if (!fn) {
    resolve_all();
    fn = strcmp(name, "fsync") == 0 ? real_fsync : real_fdatasync;
  }
  char path[512];
  int wal = is_wal_fd(fd, path, sizeof path);
  if (wal && drop_sync) return 0; /* self-check: pretend, say nothing */
  int ret = fn(fd);
  if (wal) {
    int saved = errno;
    emit(next_seq(), "SYNC %d %s %d %s", fd, name, ret, path);
    errno = saved;
  }
  return ret;
}

int fsync(int fd) { return do_sync(fd, real_fsync, "fsync"); }
int fdatasync(int fd) { return do_sync(fd, real_fdatasync, "fdatasync"); }

static void after_wal_write(int fd, ssize_t ret) {
  if (ret < 0 || log_fd < 0) return;
  char path[512];
  if (is_wal_fd(fd, path, sizeof path)) emit(next_seq(), "WALW %d %zd %s", fd, ret, path);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t off) {
  RESOLVE(pwrite);
  ssize_t ret = real_pwrite(fd, buf, count, off);
  int saved = errno;
  after_wal_write(fd, ret);
  errno = saved;
  return ret;
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t off) {
  RESOLVE(pwrite64);
  ssize_t ret = real_pwrite64(fd, buf, count, off);
  int saved = errno;
  after_wal_write(fd, ret);
  errno = saved;
  return ret;
}

ssize_t write(int fd, const void* buf, size_t count) {
  RESOLVE(write);
  if (log_fd < 0 || fd == log_fd || fd <= 2) return real_write(fd, buf, count);
  int sock = is_socket(fd);
  if (sock) on_socket_write(fd, buf, count);
  ssize_t ret = real_write(fd, buf, count);
  if (!sock) {
    int saved = errno;
    after_wal_write(fd, ret);
    errno = saved;
  }
  return ret;
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  RESOLVE(writev);
  if (log_fd >= 0 && is_socket(fd)) {
    char head[16];
    size_t n = gather(iov, iovcnt, (size_t)-1, head, sizeof head);
    on_socket_write(fd, head, n);
  }
  return real_writev(fd, iov, iovcnt);
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  RESOLVE(send);
  if (log_fd >= 0) on_socket_write(fd, buf, len);
  return real_send(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr, socklen_t alen) {
  RESOLVE(sendto);
  if (log_fd >= 0) on_socket_write(fd, buf, len);
  return real_sendto(fd, buf, len, flags, addr, alen);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  RESOLVE(sendmsg);
  if (log_fd >= 0 && msg != NULL) {
    char head[16];
    size_t n = gather(msg->msg_iov, (int)msg->msg_iovlen, (size_t)-1, head, sizeof head);
    on_socket_write(fd, head, n);
  }
  return real_sendmsg(fd, msg, flags);
}

ssize_t read(int fd, void* buf, size_t count) {
  RESOLVE(read);
  ssize_t ret = real_read(fd, buf, count);
  if (ret > 4 && log_fd >= 0 && fd != log_fd && fd > 2 && ((const char*)buf)[0] >= 'A' &&
      ((const char*)buf)[0] <= 'Z' && is_socket(fd)) {
    int saved = errno;
    on_socket_read(fd, buf, (size_t)ret, ret);
    errno = saved;
  }
  return ret;
}

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
  RESOLVE(readv);
  ssize_t ret = real_readv(fd, iov, iovcnt);
  if (ret > 0 && log_fd >= 0 && is_socket(fd)) {
    int saved = errno;
    char head[kHead];
    size_t n = gather(iov, iovcnt, (size_t)ret, head, sizeof head);
    on_socket_read(fd, head, n, ret);
    errno = saved;
  }
  return ret;
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  RESOLVE(recv);
  ssize_t ret = real_recv(fd, buf, len, flags);
  if (ret > 0 && log_fd >= 0 && !(flags & MSG_PEEK)) {
    int saved = errno;
    on_socket_read(fd, buf, (size_t)ret, ret);
    errno = saved;
  }
  return ret;
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* addr, socklen_t* alen) {
  RESOLVE(recvfrom);
  ssize_t ret = real_recvfrom(fd, buf, len, flags, addr, alen);
  if (ret > 0 && log_fd >= 0 && !(flags & MSG_PEEK)) {
    int saved = errno;
    on_socket_read(fd, buf, (size_t)ret, ret);
    errno = saved;
  }
  return ret;
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  RESOLVE(recvmsg);
  ssize_t ret = real_recvmsg(fd, msg, flags);
  if (ret > 0 && log_fd >= 0 && msg != NULL && !(flags & MSG_PEEK)) {
    int saved = errno;
    char head[kHead];
    size_t n = gather(msg->msg_iov, (int)msg->msg_iovlen, (size_t)ret, head, sizeof head);
    on_socket_read(fd, head, n, ret);
    errno = saved;
  }
  return ret;
}
