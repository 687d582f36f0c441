// The asynchronous vocabulary of the request path.
//
// Task<T> is a C++20 coroutine on Boost.Asio (`asio::awaitable<T>`). Every
// operation the request path waits on (a store write, a store read, a counter
// round trip, an idempotency key lock) is a Task: awaiting it suspends the
// coroutine and frees the I/O thread; the operation completes by posting the
// continuation back to the awaiting coroutine's own executor. Nothing on the
// request path blocks a thread, and no thread-tied lock (std::mutex,
// std::shared_lock) is held across a `co_await`.
//
// Why coroutines rather than completion handlers: the pipeline is a sequence
// (look up → lock → evaluate → count → commit → settle) with early returns on
// errors; as coroutines it reads as the sequential code it replaced and keeps
// Result<T> error values, and the PostgreSQL and Redis clients of the next
// back-ends plug in as Tasks without changing the pipeline.
//
// Reference parameters of a Task are safe only when the caller awaits it at
// once (`co_await store.f(x)`), which is the only way this code base uses them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace txv {

namespace asio = boost::asio;

template <class T = void>
using Task = asio::awaitable<T>;

using Executor = asio::any_io_executor;

// Runs `fn()` on `where` (a thread pool for blocking work: SQLite, file I/O,
// a big parse) and resumes the awaiting coroutine on its own executor with the
// result. `fn` must not throw (return errors as values); if it does anyway the
// exception is rethrown in the awaiting coroutine.
template <class Where, class F>
Task<std::invoke_result_t<F&>> run_on(Where where, F fn) {
  using R = std::invoke_result_t<F&>;
  static_assert(!std::is_void_v<R>, "run_on: return a value (e.g. Status)");
  auto initiate = [where, fn = std::move(fn)](auto handler) mutable {
    asio::post(where, [fn = std::move(fn), handler = std::move(handler)]() mutable {
      auto home = asio::get_associated_executor(handler);
      std::optional<R> result;
      std::exception_ptr error;
      try {
        result.emplace(fn());
      } catch (...) {
        error = std::current_exception();
      }
      asio::post(home, [handler = std::move(handler), error, result = std::move(result)]() mutable {
        std::move(handler)(error, std::move(result));
      });
    });
  };
  std::optional<R> result =
      co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, std::optional<R>)>(
          std::move(initiate), asio::use_awaitable);
  co_return std::move(*result);
}

// Runs `task` to completion on a private io_context in the calling thread.
// For start-up and the CLI only (it blocks the caller): never on an I/O thread.
// An exception escaping the task is rethrown here.
template <class T>
T block_on(Task<T> task) {
  asio::io_context io;
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(
      io, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
      [&error](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

}  // namespace txv
