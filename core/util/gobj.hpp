// genfill — small RAII holders for GLib/GObject ownership.
#pragma once

#include <glib-object.h>
#include <glib.h>

#include <memory>
#include <string>
#include <utility>

namespace genfill {

// How GPtr takes and drops a reference: g_object_ref/unref for GObjects; reference-counted
// GLib types say theirs below (GENFILL_GREF_TYPE), as do other libraries' where they are used
// (e.g. SoupMessageHeaders in core/transport, JsonNode in core/providers/json.hpp).
template <typename T>
struct GRefTraits {
  static T *ref(T *p) { return static_cast<T *>(g_object_ref(p)); }
  static void unref(T *p) { g_object_unref(p); }
};

#define GENFILL_GREF_TYPE(Type, ref_fn, unref_fn)               \
  template <>                                                  \
  struct GRefTraits<Type> {                                    \
    static Type *ref(Type *p) { return ref_fn(p); }            \
    static void unref(Type *p) { unref_fn(p); }                \
  }

GENFILL_GREF_TYPE(GSource, g_source_ref, g_source_unref);
GENFILL_GREF_TYPE(GMainContext, g_main_context_ref, g_main_context_unref);
GENFILL_GREF_TYPE(GMainLoop, g_main_loop_ref, g_main_loop_unref);
GENFILL_GREF_TYPE(GHashTable, g_hash_table_ref, g_hash_table_unref);
GENFILL_GREF_TYPE(GBytes, g_bytes_ref, g_bytes_unref);
GENFILL_GREF_TYPE(GDateTime, g_date_time_ref, g_date_time_unref);
GENFILL_GREF_TYPE(GUri, g_uri_ref, g_uri_unref);

// Owns one reference to a GObject, or to any type GRefTraits knows. adopt() takes a
// transfer-full pointer; ref() adds one.
template <typename T>
class GPtr {
public:
  GPtr() = default;
  static GPtr adopt(T *p) { GPtr g; g.p_ = p; return g; }
  static GPtr ref(T *p) { GPtr g; g.p_ = p ? GRefTraits<T>::ref(p) : nullptr; return g; }
  GPtr(const GPtr &o) : p_(o.p_ ? GRefTraits<T>::ref(o.p_) : nullptr) {}
  GPtr(GPtr &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  GPtr &operator=(GPtr o) noexcept { std::swap(p_, o.p_); return *this; }
  ~GPtr() { if (p_) GRefTraits<T>::unref(p_); }
  T *get() const { return p_; }
  T *release() { return std::exchange(p_, nullptr); }
  explicit operator bool() const { return p_ != nullptr; }
  T *operator->() const { return p_; }

private:
  T *p_ = nullptr;
};

template <typename T> GPtr<T> adopt(T *p) { return GPtr<T>::adopt(p); }

struct GFreeDeleter { void operator()(void *p) const { g_free(p); } };

using GCharPtr = std::unique_ptr<char, GFreeDeleter>;

// A GList whose elements it does not own (json_object_get_members and the like).
struct GListDeleter { void operator()(GList *l) const { g_list_free(l); } };
using GListPtr = std::unique_ptr<GList, GListDeleter>;

struct GOptionContextDeleter { void operator()(GOptionContext *c) const { g_option_context_free(c); } };
using GOptionContextPtr = std::unique_ptr<GOptionContext, GOptionContextDeleter>;

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
