// A one-waiter wake-up for coroutines of one event loop: wait() suspends until notify(),
// which resumes the waiter at once, inside notify() when called on the waiter's own
// thread. A timer used as a condition (wait until cancelled) costs a timer-queue entry,
// two locks and a trip through the event loop's queue per wake-up; a session's pump waits
// like that once per transaction, so it uses this instead. asio 1.22 has no type-erased
// completion handler, hence the small box below.
#pragma once

#include <asio.hpp>
#include <memory>
#include <system_error>
#include <utility>

namespace sluice::net {

class WakeUp {
 public:
  // Completes with no error at notify(); one waiter at a time.
  template <typename Token>
  auto wait(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler) {
          waiter_ = std::make_unique<Waiter<decltype(handler)>>(std::move(handler));
        },
        token);
  }
  bool waiting() const { return waiter_ != nullptr; }
  // Resumes the waiter, if any: inline on its own thread, else through its executor.
  void notify() {
    if (auto waiter = std::move(waiter_)) waiter->complete(false);
  }
  // notify() through the waiter's executor always: for callers that must not have the
  // waiter run (and perhaps end what owns them) before they return.
  void notify_later() {
    if (auto waiter = std::move(waiter_)) waiter->complete(true);
  }

 private:
  struct Box {
    virtual ~Box() = default;
    virtual void complete(bool later) = 0;
  };
  template <typename Handler>
  struct Waiter final : Box {
    explicit Waiter(Handler h) : handler(std::move(h)) {}
    void complete(bool later) override {
      auto ex = asio::get_associated_executor(handler);
      auto resume = [h = std::move(handler)]() mutable { std::move(h)(std::error_code()); };
      if (later) {
        asio::post(ex, std::move(resume));
      } else {
        asio::dispatch(ex, std::move(resume));
      }
    }
    Handler handler;
  };
  std::unique_ptr<Box> waiter_;
};

}  // namespace sluice::net
