// A one-waiter wake-up: wait() suspends until notify(), which resumes the waiter at once,
// inside notify() when called on the waiter's own thread (else through its event loop).
// A timer used as a condition (wait until cancelled) costs a timer-queue entry, two locks
// and a trip through the event loop's queue per wake-up; a session's pump and a client
// waiting for a pooled connection wait once per transaction, so they use this instead.
// Not thread-safe itself: the pool calls wait() and notify*() under its own lock. asio
// 1.22 has no type-erased completion handler, hence the small box below.
#pragma once

#include <asio.hpp>
#include <memory>
#include <system_error>
#include <utility>

namespace sluice::net {

class WakeUp {
  struct Box;
  struct Release {
    void operator()(Box* box) const;
  };
  using BoxPtr = std::unique_ptr<Box, Release>;

 public:
  // A waiter taken out by take(), to be resumed later (once a lock is released) as
  // notify() would: inline on its own thread.
  class Taken {
   public:
    void resume() {
      if (box_) std::exchange(box_, nullptr)->complete(false);
    }

   private:
    friend class WakeUp;
    BoxPtr box_;
  };

  // A completion handler boxed for park(), by code that cannot name this WakeUp where the
  // handler is made (the pool's, whose waiter type is its own).
  class Parked {
   public:
    template <typename Handler>
    explicit Parked(Handler handler) : box_(make_waiter(std::move(handler))) {}

   private:
    friend class WakeUp;
    BoxPtr box_;
  };

  // Completes with no error at notify(); one waiter at a time.
  template <typename Token>
  auto wait(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler) { waiter_ = make_waiter(std::move(handler)); }, token);
  }
  // wait()'s initiation, with the handler boxed already.
  void park(Parked parked) { waiter_ = std::move(parked.box_); }
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
  // Takes the waiter out, if any (nothing to resume otherwise).
  Taken take() {
    Taken taken;
    taken.box_ = std::move(waiter_);
    return taken;
  }

 private:
  // Boxes come from asio's per-thread recycling allocator: one is made per wait, and a
  // session's pump waits once per transaction.
  struct Box {
    virtual void complete(bool later) = 0;
    virtual void destroy() = 0;  // the destructor, then the memory back to the allocator

   protected:
    ~Box() = default;
  };
  template <typename Handler>
  struct Waiter final : Box {
    using Allocator = asio::recycling_allocator<Waiter>;
    explicit Waiter(Handler h) : handler(std::move(h)) {}
    void destroy() override {
      this->~Waiter();
      Allocator().deallocate(this, 1);
    }
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
  template <typename Handler>
  static BoxPtr make_waiter(Handler handler) {
    using W = Waiter<Handler>;
    void* memory = typename W::Allocator().allocate(1);
    try {
      return BoxPtr(new (memory) W(std::move(handler)));
    } catch (...) {
      typename W::Allocator().deallocate(static_cast<W*>(memory), 1);
      throw;
    }
  }
  BoxPtr waiter_;
};

inline void WakeUp::Release::operator()(Box* box) const { box->destroy(); }

}  // namespace sluice::net
