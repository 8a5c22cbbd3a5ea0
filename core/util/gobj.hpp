// genfill — small RAII holders for GLib/GObject ownership.
#pragma once

#include <glib-object.h>
#include <glib.h>

#include <memory>
#include <string>
#include <utility>

namespace genfill {

// Owns one reference to a GObject. adopt() takes a transfer-full pointer; ref() adds one.
template <typename T>
class GPtr {
public:
  GPtr() = default;
  static GPtr adopt(T *p) { GPtr g; g.p_ = p; return g; }
  static GPtr ref(T *p) { GPtr g; g.p_ = p ? static_cast<T *>(g_object_ref(p)) : nullptr; return g; }
  GPtr(const GPtr &o) : p_(o.p_ ? static_cast<T *>(g_object_ref(o.p_)) : nullptr) {}
  GPtr(GPtr &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  GPtr &operator=(GPtr o) noexcept { std::swap(p_, o.p_); return *this; }
  ~GPtr() { if (p_) g_object_unref(p_); }
  T *get() const { return p_; }
  T *release() { return std::exchange(p_, nullptr); }
  explicit operator bool() const { return p_ != nullptr; }
  T *operator->() const { return p_; }

private:
  T *p_ = nullptr;
};

template <typename T> GPtr<T> adopt(T *p) { return GPtr<T>::adopt(p); }

struct GFreeDeleter { void operator()(void *p) const { g_free(p); } };
struct GErrorDeleter { void operator()(GError *e) const { if (e) g_error_free(e); } };
struct GBytesDeleter { void operator()(GBytes *b) const { if (b) g_bytes_unref(b); } };
struct GMainLoopDeleter { void operator()(GMainLoop *l) const { if (l) g_main_loop_unref(l); } };
struct GMainContextDeleter { void operator()(GMainContext *c) const { if (c) g_main_context_unref(c); } };

using GCharPtr = std::unique_ptr<char, GFreeDeleter>;
using GErrorPtr = std::unique_ptr<GError, GErrorDeleter>;
using GBytesPtr = std::unique_ptr<GBytes, GBytesDeleter>;

// For GError** out-parameters: `GErrorOut err; f(..., err.out()); if (err) ...`
class GErrorOut {
public:
  ~GErrorOut() { if (e_) g_error_free(e_); }
  GError **out() { return &e_; }
  GError *get() const { return e_; }
  explicit operator bool() const { return e_ != nullptr; }
  std::string message() const { return e_ ? e_->message : ""; }

private:
  GError *e_ = nullptr;
};

}  // namespace genfill
