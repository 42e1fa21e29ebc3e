// The Unix-domain client socket's file: bound with its mode, a stale one replaced, a live
// one or a non-socket refused, and removed only by its owner. Real sockets in a temp dir.
#include "server/unix_listener.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "common/socket_path.h"

namespace sluice::server {
namespace {

class UnixListenerTest : public testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sluice-unix-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/.s.PGSQL.6432";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  bool exists() const {
    struct stat st {};
    return ::lstat(path_.c_str(), &st) == 0;
  }
  // Connects as a client would; true when it got through.
  bool connects() const {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_un addr = unix_address(path_);
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  // What bind() throws ("" when it does not).
  std::string bind_error() const {
    try {
      UnixSocketFile::bind(path_, {0777});
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_;
  std::string path_;
};

TEST_F(UnixListenerTest, BindsWithTheModeAndRemovesItsFile) {
  auto file = UnixSocketFile::bind(path_, {0770});
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0770u);
  UniqueFd fd = file->take_fd();
  EXPECT_EQ(bound_unix_path(fd.get()), path_);
  EXPECT_TRUE(connects());
  file->remove_file();
  EXPECT_FALSE(exists());
}

TEST_F(UnixListenerTest, RefusesWhileAServerListens) {
  auto file = UnixSocketFile::bind(path_, {0777});
  const std::string error = bind_error();
  EXPECT_NE(error.find("another server is listening on the Unix socket " + path_),
            std::string::npos)
      << error;
  EXPECT_TRUE(connects());  // the first one's file is untouched
}

TEST_F(UnixListenerTest, ReplacesAStaleSocket) {
  auto dead = UnixSocketFile::bind(path_, {0777});
  dead->take_fd().reset();  // its server died: the file stays, nothing answers
  ASSERT_TRUE(exists());
  EXPECT_FALSE(connects());
  auto file = UnixSocketFile::bind(path_, {0777});
  UniqueFd fd = file->take_fd();
  EXPECT_TRUE(connects());
}

TEST_F(UnixListenerTest, RefusesAFileThatIsNotASocket) {
  std::ofstream(path_) << "data";
  EXPECT_NE(bind_error().find(path_ + " exists and is not a socket"), std::string::npos);
  EXPECT_TRUE(exists());
}

TEST_F(UnixListenerTest, OnlyTheOwnerRemovesTheFile) {
  auto file = UnixSocketFile::bind(path_, {0777});
  UniqueFd fd = file->take_fd();
  // Taken over: the file is the old process's until the takeover completes.
  auto adopted = UnixSocketFile::adopt(path_, UniqueFd(::dup(fd.get())));
  adopted->remove_file();
  EXPECT_TRUE(exists());
  // Handed over: the old process leaves it to the new one.
  file->set_owned(false);
  file->remove_file();
  EXPECT_TRUE(exists());
  adopted->set_owned(true);
  adopted->remove_file();
  EXPECT_FALSE(exists());
}

TEST_F(UnixListenerTest, LeavesALaterServersFile) {
  auto old_file = UnixSocketFile::bind(path_, {0777});
  old_file->take_fd().reset();
  auto new_file = UnixSocketFile::bind(path_, {0777});  // replaced the stale one
  UniqueFd fd = new_file->take_fd();
  old_file->remove_file();
  EXPECT_TRUE(connects());
}

TEST(UnixListener, BoundPathIsEmptyForOtherSockets) {
  UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(bound_unix_path(tcp.get()), "");
}

}  // namespace
}  // namespace sluice::server
