#include "core/util/i18n.hpp"
#include "core/keys/keys.hpp"

#include <gio/gio.h>
#include <glib.h>

#include "core/util/error.hpp"
#include "core/util/gobj.hpp"
#include "genfill-config.h"

#if GENFILL_HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

namespace genfill {

namespace {

#if GENFILL_HAVE_LIBSECRET
const SecretSchema *key_schema() {
  static const SecretSchema schema = {
      "org.genfill.ApiKey",
      SECRET_SCHEMA_NONE,
      {{"provider", SECRET_SCHEMA_ATTRIBUTE_STRING}, {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING}},
      0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  return &schema;
}
#endif

bool keyring_disabled() {
  const char *v = g_getenv("GENFILL_NO_KEYRING");
  return v && *v && g_strcmp0(v, "0") != 0;
}

std::string trimmed(const char *s) {
  std::string k = s ? s : "";
  const char *ws = " \t\r\n";
  k.erase(0, k.find_first_not_of(ws) == std::string::npos ? k.size() : k.find_first_not_of(ws));
  k.erase(k.find_last_not_of(ws) + 1);
  return k;
}

}  // namespace

#if GENFILL_HAVE_LIBSECRET
namespace {

// What went wrong with the keyring, in the user's words.
std::string keyring_problem(const GError *e) {
  if (!e) return {};
  if (g_error_matches(e, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
    return _("The desktop keyring is locked and was not unlocked.");
  if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return _("Unlocking the desktop keyring was cancelled.");
  if (e->domain == G_DBUS_ERROR || e->domain == G_IO_ERROR || e->domain == G_SPAWN_ERROR)
    return _("No desktop keyring is running (no Secret Service, such as GNOME Keyring or KWallet, answers).");
  return format(_("The desktop keyring failed: %s"), e->message);
}

}  // namespace
#endif

std::optional<std::string> keyring_lookup(const std::string &provider_name, std::string *problem) {
  if (problem) problem->clear();
#if GENFILL_HAVE_LIBSECRET
  if (keyring_disabled()) {
    if (problem) *problem = _("The keyring is turned off (GENFILL_NO_KEYRING is set).");
    return std::nullopt;
  }
  GErrorOut err;
  gchar *secret = secret_password_lookup_sync(key_schema(), nullptr, err.out(), "provider",
                                              provider_name.c_str(), nullptr);
  if (!secret) {
    if (err) {
      g_debug("keyring lookup for %s failed: %s", provider_name.c_str(), err.message().c_str());
      if (problem) *problem = keyring_problem(err.get());
    }
    return std::nullopt;
  }
  const std::unique_ptr<gchar, decltype(&secret_password_free)> owned(secret, &secret_password_free);
  std::string key = trimmed(secret);
  if (key.empty()) return std::nullopt;
  return key;
#else
  (void)provider_name;
  if (problem) *problem = _("This build of genfill has no keyring support.");
  return std::nullopt;
#endif
}

void keyring_store(const std::string &provider_name, const std::string &key) {
  const std::string k = trimmed(key.c_str());
  if (k.empty()) throw Error(ErrorCode::InvalidInput, _("The key is empty: nothing was stored."));
#if GENFILL_HAVE_LIBSECRET
  if (keyring_disabled())
    throw Error(ErrorCode::InvalidInput, _("The keyring is turned off (GENFILL_NO_KEYRING is set)."));
  std::string label = "genfill API key for " + provider_name;
  GErrorOut err;
  gboolean ok = secret_password_store_sync(key_schema(), SECRET_COLLECTION_DEFAULT, label.c_str(), k.c_str(),
                                           nullptr, err.out(), "provider", provider_name.c_str(), nullptr);
  if (!ok)
    throw Error(ErrorCode::InvalidInput,
                format(_("Could not store the key in the desktop keyring. %s"), keyring_problem(err.get()).c_str()),
                err.message());
#else
  (void)provider_name;
  throw Error(ErrorCode::InvalidInput, _("This build of genfill has no keyring support."));
#endif
}

bool keyring_delete(const std::string &provider_name) {
#if GENFILL_HAVE_LIBSECRET
  if (keyring_disabled())
    throw Error(ErrorCode::InvalidInput, _("The keyring is turned off (GENFILL_NO_KEYRING is set)."));
  GErrorOut err;
  const gboolean removed =
      secret_password_clear_sync(key_schema(), nullptr, err.out(), "provider", provider_name.c_str(), nullptr);
  if (err)
    throw Error(ErrorCode::InvalidInput,
                format(_("Could not remove the key from the desktop keyring. %s"), keyring_problem(err.get()).c_str()),
                err.message());
  return removed;
#else
  (void)provider_name;
  throw Error(ErrorCode::InvalidInput, _("This build of genfill has no keyring support."));
#endif
}

std::optional<FoundKey> find_api_key(const Provider &provider) {
  for (const std::string &var : provider.key_env_vars()) {
    std::string key = trimmed(g_getenv(var.c_str()));
    if (!key.empty()) return FoundKey{key, var};
  }
  if (auto key = keyring_lookup(std::string(provider.name()))) return FoundKey{*key, "keyring"};
  return std::nullopt;
}

}  // namespace genfill
