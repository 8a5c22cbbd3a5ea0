// genfill plug-in — its windows: the Edit and Generate dialogs (prompt, service, the model list,
// where the key goes, references), the key dialog, and the progress window (see dialog.hpp).
#include "gimp-plugin/dialog.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <libgimp/gimpui.h>

#include "core/catalog/models.hpp"
#include "core/cost/ledger.hpp"
#include "core/edit/endpoint.hpp"
#include "core/edit/expand.hpp"
#include "core/served/served.hpp"
#include "core/util/gobj.hpp"
#include "gimp-plugin/common.hpp"

namespace genfill::plugin {

Waiting::Waiting(bool interactive, const std::string &title) : cancel_(adopt(g_cancellable_new())) {
  gimp_progress_init(title.c_str());
  pulse_ = g_timeout_add(100, +[](gpointer self) -> gboolean {
    auto *w = static_cast<Waiting *>(self);
    if (w->fraction_ < 0) gimp_progress_pulse();
    if (w->bar_) gtk_progress_bar_pulse(GTK_PROGRESS_BAR(w->bar_));
    w->tick();
    return G_SOURCE_CONTINUE;
  }, this);
  if (!interactive) return;
  window_ = gtk_dialog_new_with_buttons(_("Generative Fill"), nullptr, GtkDialogFlags(0), _("_Cancel"),
                                        GTK_RESPONSE_CANCEL, nullptr);
  gimp_window_set_transient(GTK_WINDOW(window_));
  GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(window_));
  gtk_container_set_border_width(GTK_CONTAINER(box), 12);
  gtk_box_set_spacing(GTK_BOX(box), 8);
  label_ = gtk_label_new(title.c_str());
  gtk_label_set_xalign(GTK_LABEL(label_), 0);
  bar_ = gtk_progress_bar_new();
  gtk_widget_set_size_request(bar_, 320, -1);
  // Drafts, for models that stream: a thumbnail of the region as the answer would land there,
  // shown once the first comes (the image itself is not touched until the answer is in).
  draft_ = gtk_image_new();
  draft_label_ = gtk_label_new("");
  gtk_label_set_xalign(GTK_LABEL(draft_label_), 0.5);
  gtk_style_context_add_class(gtk_widget_get_style_context(draft_label_), "dim-label");
  gtk_widget_set_no_show_all(draft_, TRUE);
  gtk_widget_set_no_show_all(draft_label_, TRUE);
  gtk_box_pack_start(GTK_BOX(box), label_, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), draft_, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), draft_label_, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), bar_, FALSE, FALSE, 0);
  g_signal_connect(window_, "response", G_CALLBACK(+[](GtkDialog *, gint, gpointer c) {
                     g_cancellable_cancel(G_CANCELLABLE(c));
                   }), cancel_.get());
  g_signal_connect(window_, "delete-event", G_CALLBACK(+[](GtkWidget *, GdkEvent *, gpointer c) -> gboolean {
                     g_cancellable_cancel(G_CANCELLABLE(c));
                     return TRUE;
                   }), cancel_.get());
  gtk_widget_show_all(window_);
}

Waiting::~Waiting() {
  g_source_remove(pulse_);
  if (window_) gtk_widget_destroy(window_);
  gimp_progress_end();
}

void Waiting::update(const Progress &p) {
  if (p.stage != stage_) {
    stage_ = p.stage;
    gimp_progress_set_text((p.stage + "…").c_str());
    tick();
  }
  fraction_ = p.fraction;
  if (p.fraction >= 0) gimp_progress_update(p.fraction);
  if (p.draft) show_draft(*p.draft);
}

// "Waiting for Gemini… 12 s": the stage and the time since the run began.
void Waiting::tick() {
  if (!label_ || stage_.empty()) return;
  const int seconds = int((g_get_monotonic_time() - started_us_) / G_USEC_PER_SEC);
  const std::string text = format(_("%s… %d s"), stage_.c_str(), seconds);
  gtk_label_set_text(GTK_LABEL(label_), text.c_str());
}

void Waiting::show_draft(const Draft &d) {
  if (!draft_ || d.picture.empty()) return;
  constexpr int kSide = 256;  // the thumbnail's longer side at most
  const Image &pic = d.picture;
  GPtr<GBytes> bytes = adopt(g_bytes_new(pic.pixels.data(), pic.pixels.size()));
  GPtr<GdkPixbuf> full =
      adopt(gdk_pixbuf_new_from_bytes(bytes.get(), GDK_COLORSPACE_RGB, TRUE, 8, pic.width, pic.height, pic.width * 4));
  const double f = std::min(1.0, double(kSide) / std::max(pic.width, pic.height));
  const int w = std::max(1, int(pic.width * f)), h = std::max(1, int(pic.height * f));
  GPtr<GdkPixbuf> thumb = adopt(gdk_pixbuf_scale_simple(full.get(), w, h, GDK_INTERP_BILINEAR));
  gtk_image_set_from_pixbuf(GTK_IMAGE(draft_), thumb.get());
  const std::string caption =
      format(_("Draft %d, after %.0f s; the finished picture replaces it"), d.number, d.seconds);
  gtk_label_set_text(GTK_LABEL(draft_label_), caption.c_str());
  gtk_widget_show(draft_);
  gtk_widget_show(draft_label_);
  g_debug("progress window shows draft %d (%dx%d)", d.number, w, h);
}

namespace {

// Asks for a key when none is set up (interactive only). Returns "" when the user cancels.
std::string ask_for_key(const ServiceInfo &service) {
  std::string title = format(_("API key for %s"), service.display_name.c_str());
  GtkWidget *dlg = gimp_dialog_new(title.c_str(), "genfill-key", nullptr, GtkDialogFlags(0), nullptr, nullptr,
                                   _("_Cancel"), GTK_RESPONSE_CANCEL, _("_OK"), GTK_RESPONSE_OK, nullptr);
  GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(dlg));
  gtk_container_set_border_width(GTK_CONTAINER(box), 12);
  gtk_box_set_spacing(GTK_BOX(box), 8);
  GtkWidget *label = gtk_label_new(format(_("genfill needs an API key for %s. Paste it here, or set %s before "
                                           "starting GIMP."),
                                         service.display_name.c_str(), key_variables_text(service).c_str())
                                      .c_str());
  gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
  gtk_label_set_xalign(GTK_LABEL(label), 0);
  GtkWidget *entry = gtk_entry_new();
  gtk_entry_set_visibility(GTK_ENTRY(entry), FALSE);
  gtk_entry_set_activates_default(GTK_ENTRY(entry), TRUE);
  GtkWidget *entry_label = gtk_label_new_with_mnemonic(_("_API key"));
  gtk_label_set_mnemonic_widget(GTK_LABEL(entry_label), entry);
  gtk_label_set_xalign(GTK_LABEL(entry_label), 0);
  GtkWidget *store = gtk_check_button_new_with_mnemonic(_("_Remember it in the desktop keyring"));
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(store), TRUE);
  gtk_box_pack_start(GTK_BOX(box), label, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), entry_label, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), entry, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), store, FALSE, FALSE, 0);
  gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_OK);
  gimp_window_set_transient(GTK_WINDOW(dlg));
  gtk_widget_show_all(dlg);
  gtk_widget_grab_focus(entry);  // typing goes to the key, Escape cancels
  std::string key;
  if (gimp_dialog_run(GIMP_DIALOG(dlg)) == GTK_RESPONSE_OK) {
    key = trim(gtk_entry_get_text(GTK_ENTRY(entry)));
    if (!key.empty() && gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(store))) {
      try {
        keyring_store(service.name, key);
      } catch (const Error &e) {
        gimp_message(e.message());  // the key is still used for this run
      }
    }
  }
  gtk_widget_destroy(dlg);
  return key;
}

constexpr int kReferenceChoosers = 3;

// The Model field: a combo box listing the models the chosen service serves today (id, and its
// name beside it), with an entry for ids no list knows yet. It edits the same "model" string
// argument as before; an empty value still means the service's default. The list comes from
// the service's cached list (or genfill's catalog) at once, then from the service itself in
// the background when its list is older than a day and a key is at hand. Retired models are
// left out.
struct ModelField {
  GimpProcedureConfig *config;
  GtkListStore *store;
  GtkWidget *combo;
  GPtr<GCancellable> asking;  // the background request for the service's list, if any
};

void show_models(ModelField *f, const ModelListing &listing) {
  gtk_list_store_clear(f->store);
  const ListedModel *fallback = nullptr;
  for (const ListedModel &m : listing.models)
    if (m.is_default) fallback = &m;
  // What an empty field means, said in the list's first line and in the empty field itself.
  const std::string meaning =
      !fallback                     ? std::string(_("The service's default"))
      : fallback->name != fallback->id ? format(_("Default: %s — %s"), fallback->name.c_str(), fallback->id.c_str())
                                    : format(_("Default: %s"), fallback->id.c_str());
  GtkTreeIter it;
  gtk_list_store_append(f->store, &it);
  gtk_list_store_set(f->store, &it, 0, "", 1, meaning.c_str(), -1);
  gtk_entry_set_placeholder_text(GTK_ENTRY(gtk_bin_get_child(GTK_BIN(f->combo))), meaning.c_str());
  for (const ListedModel &m : listing.models) {
    if (!m.usable()) continue;
    const std::string label = m.status == ModelStatus::New ? format(_("%s (new)"), m.name.c_str())
                              : !m.shutdown.empty()        ? format(_("%s (shuts down on %s)"), m.name.c_str(),
                                                                    m.shutdown.c_str())
                                                           : m.name;
    gtk_list_store_append(f->store, &it);
    gtk_list_store_set(f->store, &it, 0, m.id.c_str(), 1, label.c_str(), -1);
  }
  gtk_widget_set_tooltip_text(f->combo, listing.note.empty() ? _("Model id; empty = the service's default")
                                                             : listing.note.c_str());
}

ListOptions list_options(ModelField *f) {
  ListOptions o;
  o.provider = config_string(f->config, "provider");
  o.endpoint = trim(config_string(f->config, "endpoint"));
  return o;
}

// The service's own list, asked for on a worker thread (its own main context, so GIMP's stays
// free); shown when it arrives if the dialog still asks for the same service.
void ask_service_for_models(ModelField *f) {
  if (f->asking) g_cancellable_cancel(f->asking.get());
  f->asking = adopt(g_cancellable_new());
  struct Ask {
    ListOptions opts;
    std::optional<ModelListing> listing;
  };
  auto *ask = new Ask{list_options(f), std::nullopt};
  GPtr<GTask> task = adopt(g_task_new(f->combo, f->asking.get(), +[](GObject *combo, GAsyncResult *res, gpointer) {
    auto *a = static_cast<Ask *>(g_task_get_task_data(G_TASK(res)));
    // Cancelled: the dialog closed (its widgets are gone) or another service was chosen.
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(res))) || !a->listing) return;
    auto *field = static_cast<ModelField *>(g_object_get_data(combo, "genfill-model-field"));
    if (!field) return;
    const ListOptions now = list_options(field);
    if (now.provider == a->opts.provider && now.endpoint == a->opts.endpoint) show_models(field, *a->listing);
  }, nullptr));
  g_task_set_task_data(task.get(), ask, [](gpointer p) { delete static_cast<Ask *>(p); });
  g_task_run_in_thread(task.get(), +[](GTask *t, gpointer, gpointer data, GCancellable *cancel) {
    auto *a = static_cast<Ask *>(data);
    GPtr<GMainContext> ctx = adopt(g_main_context_new());
    g_main_context_push_thread_default(ctx.get());
    try {
      a->listing = list_models(a->opts, cancel);
    } catch (...) {
      // an unknown service or a bad endpoint: the run itself says so
    }
    g_main_context_pop_thread_default(ctx.get());
    g_task_return_boolean(t, TRUE);
  });
}

void fill_models(ModelField *f) {
  const ListOptions quick = [&] {
    ListOptions o = list_options(f);
    o.cache_only = true;  // never waits on the network
    return o;
  }();
  ModelListing listing;
  try {
    listing = list_models(quick);
  } catch (const Error &e) {  // a broken model list or endpoint: the run itself reports it too
    gtk_list_store_clear(f->store);
    gtk_widget_set_tooltip_text(f->combo, e.message());
    return;
  }
  show_models(f, listing);
  // A model of another service makes no sense here: back to the default.
  const std::string current = trim(config_string(f->config, "model"));
  if (!current.empty() && std::none_of(listing.models.begin(), listing.models.end(),
                                       [&](const ListedModel &m) { return m.id == current; }))
    for (const ModelInfo &m : known_models())  // loaded above without error
      if (m.id == current && m.provider != quick.provider) {
        g_object_set(f->config, "model", "", nullptr);
        break;
      }
  const bool fresh = listing.source == ListSource::Cache &&
                     g_get_real_time() / G_USEC_PER_SEC - listing.fetched < kModelListMaxAgeSeconds;
  if (!fresh) ask_service_for_models(f);
}

void add_model_list(GimpProcedureDialog *d, GimpProcedureConfig *config) {
  GtkWidget *labeled = gimp_procedure_dialog_get_widget(d, "model", G_TYPE_NONE);
  if (!GIMP_IS_LABEL_ENTRY(labeled)) return;  // keep GIMP's own entry
  GtkWidget *entry = gimp_label_entry_get_entry(GIMP_LABEL_ENTRY(labeled));
  GPtr<GtkListStore> store = adopt(gtk_list_store_new(2, G_TYPE_STRING, G_TYPE_STRING));  // the combo box keeps it
  auto *f = new ModelField{config, store.get(), nullptr, {}};
  f->combo = gtk_combo_box_new_with_model_and_entry(GTK_TREE_MODEL(f->store));
  gtk_combo_box_set_entry_text_column(GTK_COMBO_BOX(f->combo), 0);
  GtkCellRenderer *name = gtk_cell_renderer_text_new();
  g_object_set(name, "xpad", 12, nullptr);
  gtk_cell_layout_pack_start(GTK_CELL_LAYOUT(f->combo), name, TRUE);
  gtk_cell_layout_add_attribute(GTK_CELL_LAYOUT(f->combo), name, "text", 1);
  gtk_widget_set_hexpand(f->combo, TRUE);
  // The combo box's entry and GIMP's (now hidden) entry both edit the argument.
  g_object_bind_property(config, "model", gtk_bin_get_child(GTK_BIN(f->combo)), "text",
                         GBindingFlags(G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE));
  gtk_widget_set_no_show_all(entry, TRUE);
  gtk_widget_hide(entry);
  gtk_grid_attach_next_to(GTK_GRID(labeled), f->combo, entry, GTK_POS_RIGHT, 1, 1);
  gtk_label_set_mnemonic_widget(GTK_LABEL(gimp_labeled_get_label(GIMP_LABELED(labeled))), f->combo);
  g_object_set_data_full(G_OBJECT(f->combo), "genfill-model-field", f, [](gpointer p) {
    auto *field = static_cast<ModelField *>(p);
    if (field->asking) g_cancellable_cancel(field->asking.get());  // the answer is no longer wanted
    delete field;
  });
  g_signal_connect(f->combo, "destroy", G_CALLBACK(+[](GtkWidget *combo, gpointer) {
                     auto *field = static_cast<ModelField *>(g_object_get_data(G_OBJECT(combo), "genfill-model-field"));
                     if (field && field->asking) g_cancellable_cancel(field->asking.get());
                   }), nullptr);
  fill_models(f);
  // Refilled when the service changes; disconnected with the combo box.
  g_signal_connect_object(config, "notify::provider", G_CALLBACK(+[](GObject *, GParamSpec *, gpointer combo) {
                            fill_models(static_cast<ModelField *>(g_object_get_data(G_OBJECT(combo), "genfill-model-field")));
                          }), f->combo, GConnectFlags(0));
  gtk_widget_show(f->combo);
}

// Beside the Service field: whether a key is set up for the chosen service, and where it comes
// from (never the key itself); without one, genfill asks for it when the edit runs.
void show_key_status(GtkWidget *label, GimpProcedureConfig *config) {
  const ServiceInfo *service = find_service(config_string(config, "provider"));
  std::string text;
  if (service) {
    const std::optional<FoundKey> found = find_service_key(*service);
    text = !found                       ? _("No key yet: asked for when you run")
           : found->source == "keyring" ? _("Key set (desktop keyring)")
                                        : format(_("Key set (%s)"), found->source.c_str());
  }
  gtk_label_set_text(GTK_LABEL(label), text.c_str());
}

void add_key_status(GimpProcedureDialog *d, GimpProcedureConfig *config) {
  GtkWidget *labeled = gimp_procedure_dialog_get_widget(d, "provider", G_TYPE_NONE);
  if (!GTK_IS_GRID(labeled)) return;
  GtkWidget *label = gtk_label_new(nullptr);
  gtk_widget_set_name(label, "genfill-key-status");
  gtk_style_context_add_class(gtk_widget_get_style_context(label), "dim-label");
  gtk_widget_set_margin_start(label, 8);
  gtk_grid_attach(GTK_GRID(labeled), label, 2, 0, 1, 1);
  g_signal_connect_object(config, "notify::provider", G_CALLBACK(+[](GimpProcedureConfig *c, GParamSpec *, gpointer l) {
                            show_key_status(GTK_WIDGET(l), c);
                          }), label, GConnectFlags(0));
  show_key_status(label, config);
  gtk_widget_show(label);
}

// Which host gets the key, shown while the endpoint (kept from an earlier run, or folded away
// under More options) is not the service's own.
void show_key_destination(GtkWidget *label, GimpProcedureConfig *config) {
  const auto where = key_goes_elsewhere(config_string(config, "provider"), trim(config_string(config, "endpoint")));
  if (!where) {
    gtk_widget_hide(label);
    return;
  }
  gtk_label_set_text(GTK_LABEL(label),
                     format(_("Your %s key will be sent to %s, the endpoint under More options, not to %s itself."),
                            where->service.c_str(), where->host.c_str(), where->service.c_str())
                         .c_str());
  gtk_widget_show(label);
}

void add_key_destination(GtkWidget *dlg, GimpProcedureConfig *config) {
  GtkWidget *label = gtk_label_new(nullptr);
  gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
  gtk_label_set_xalign(GTK_LABEL(label), 0);
  gtk_widget_set_no_show_all(label, TRUE);
  gtk_widget_set_name(label, "genfill-key-destination");
  gtk_widget_set_margin_start(label, 12);
  gtk_widget_set_margin_end(label, 12);
  gtk_box_pack_end(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dlg))), label, FALSE, FALSE, 0);
  for (const char *signal : {"notify::provider", "notify::endpoint"})
    g_signal_connect_object(config, signal, G_CALLBACK(+[](GimpProcedureConfig *c, GParamSpec *, gpointer l) {
                              show_key_destination(GTK_WIDGET(l), c);
                            }), label, GConnectFlags(0));
  show_key_destination(label, config);
}

}  // namespace

PreparedJob prepare_with_key(JobSettings &settings, bool ui, Task task) {
  try {
    return prepare(settings, task);
  } catch (const Error &e) {
    if (e.code() != ErrorCode::MissingKey || !ui) throw;
    const ServiceInfo *service = find_service(settings.provider);
    std::string key = service ? ask_for_key(*service) : "";
    if (key.empty()) throw Error(ErrorCode::Cancelled, _("Cancelled."));
    settings.api_key = key;
    return prepare(settings, task);
  }
}

bool offer_replacement(const Error &e, GimpProcedureConfig *config) {
  if (e.code() != ErrorCode::ModelNotFound || e.replacement().empty()) return false;
  GtkWidget *dlg = gtk_message_dialog_new(nullptr, GtkDialogFlags(0), GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE, "%s",
                                          e.message());
  gtk_message_dialog_format_secondary_text(
      GTK_MESSAGE_DIALOG(dlg), "%s",
      format(_("Switch to %s and run again? The refused request was not billed."), e.replacement().c_str()).c_str());
  gtk_dialog_add_buttons(GTK_DIALOG(dlg), _("_Cancel"), GTK_RESPONSE_CANCEL,
                         format(_("_Use %s"), e.replacement().c_str()).c_str(), GTK_RESPONSE_OK, nullptr);
  gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_OK);
  gtk_window_set_title(GTK_WINDOW(dlg), _("Model no longer offered"));
  gimp_window_set_transient(GTK_WINDOW(dlg));
  const bool use = gtk_dialog_run(GTK_DIALOG(dlg)) == GTK_RESPONSE_OK;
  gtk_widget_destroy(dlg);
  if (use) g_object_set(config, "model", e.replacement().c_str(), nullptr);
  return use;
}

void offer_to_forget_key(const PreparedJob &job) {
  GtkWidget *dlg = gtk_message_dialog_new(nullptr, GtkDialogFlags(0), GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE, "%s",
                                          format(_("%s rejected the API key stored in your desktop keyring."),
                                                 job.service.c_str())
                                              .c_str());
  gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dlg), "%s",
                                           _("Forget it, and genfill will ask for a new key next time."));
  gtk_dialog_add_buttons(GTK_DIALOG(dlg), _("_Keep"), GTK_RESPONSE_CANCEL, _("_Forget the key"), GTK_RESPONSE_OK,
                         nullptr);
  gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_CANCEL);
  gtk_window_set_title(GTK_WINDOW(dlg), format(_("API key for %s"), job.service.c_str()).c_str());
  gimp_window_set_transient(GTK_WINDOW(dlg));
  const bool forget = gtk_dialog_run(GTK_DIALOG(dlg)) == GTK_RESPONSE_OK;
  gtk_widget_destroy(dlg);
  if (!forget) return;
  try {
    keyring_delete(job.settings.provider);
  } catch (const Error &e) {
    gimp_message(e.message());
  }
}

namespace {

// Ctrl+Return (or Ctrl+Enter on the keypad) in the prompt runs the dialog, as its OK button.
gboolean run_on_ctrl_return(GtkWidget *view, GdkEventKey *e, gpointer) {
  const bool enter = e->keyval == GDK_KEY_Return || e->keyval == GDK_KEY_KP_Enter || e->keyval == GDK_KEY_ISO_Enter;
  if (!enter || !(e->state & GDK_CONTROL_MASK)) return FALSE;
  GtkWidget *top = gtk_widget_get_toplevel(view);
  if (GTK_IS_DIALOG(top)) gtk_dialog_response(GTK_DIALOG(top), GTK_RESPONSE_OK);
  return TRUE;
}

// As the dialog shows: the prompt has the focus, its remembered text selected.
void focus_prompt(GtkWidget *, gpointer view) {
  GtkTextBuffer *buffer = gtk_text_view_get_buffer(GTK_TEXT_VIEW(view));
  GtkTextIter start, end;
  gtk_text_buffer_get_bounds(buffer, &start, &end);
  gtk_text_buffer_select_range(buffer, &start, &end);
  gtk_widget_grab_focus(GTK_WIDGET(view));
}

// The prompt as a text field of a few lines under `label` (whose mnemonic goes to the field), at
// the top of the dialog. The field has the focus when the dialog opens, its remembered text
// selected so that typing replaces it (and no key typed lands on a button); Return starts a new
// line, Ctrl+Return runs. (Built here rather than by GimpProcedureDialog, whose text view for a
// string argument can carry no label and so no mnemonic.)
void add_prompt_box(GimpProcedureDialog *d, GimpProcedureConfig *config, const char *label) {
  GPtr<GtkTextBuffer> buffer = adopt(gimp_prop_text_buffer_new(G_OBJECT(config), "prompt", -1));
  GtkWidget *tv = gtk_text_view_new_with_buffer(buffer.get());
  gtk_widget_set_name(tv, "genfill-prompt");
  gtk_text_view_set_wrap_mode(GTK_TEXT_VIEW(tv), GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_top_margin(GTK_TEXT_VIEW(tv), 3);
  gtk_text_view_set_bottom_margin(GTK_TEXT_VIEW(tv), 3);
  gtk_text_view_set_left_margin(GTK_TEXT_VIEW(tv), 3);
  gtk_text_view_set_right_margin(GTK_TEXT_VIEW(tv), 3);
  gtk_widget_set_tooltip_text(tv, _("Return starts a new line; Ctrl+Return runs"));
  g_signal_connect(tv, "key-press-event", G_CALLBACK(run_on_ctrl_return), nullptr);
  g_signal_connect_after(d, "map", G_CALLBACK(focus_prompt), tv);
  GtkWidget *sw = gtk_scrolled_window_new(nullptr, nullptr);
  gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(sw), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_shadow_type(GTK_SCROLLED_WINDOW(sw), GTK_SHADOW_IN);
  gtk_widget_set_size_request(sw, 420, 110);
  gtk_container_add(GTK_CONTAINER(sw), tv);
  GtkWidget *title = gtk_label_new_with_mnemonic(label);
  gtk_label_set_xalign(GTK_LABEL(title), 0);
  gtk_label_set_mnemonic_widget(GTK_LABEL(title), tv);
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
  gtk_box_pack_start(GTK_BOX(box), title, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), sw, TRUE, TRUE, 0);
  // Packed before gimp_procedure_dialog_fill() packs the rest: first in the dialog.
  gtk_box_pack_start(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(d))), box, TRUE, TRUE, 0);
  gtk_widget_show_all(box);
}

// "More options", folded, holding `more-box`.
void add_more_options(GimpProcedureDialog *d) {
  gimp_procedure_dialog_get_label(d, "more-label", _("More _options"), FALSE, TRUE);
  gimp_procedure_dialog_fill_expander(d, "more", "more-label", FALSE, "more-box");
  // Last under More options: which genfill this is and how old its model facts are, for a
  // report or to tell whether an update is due.
  if (GtkWidget *box = gimp_procedure_dialog_get_widget(d, "more-box", G_TYPE_NONE)) {
    const CatalogStamp catalog = shipped_catalog_stamp();
    const std::string text = catalog.date.empty()
                                 ? format("genfill %s", GENFILL_VERSION)
                                 : format(_("genfill %s, model catalog of %s"), GENFILL_VERSION, catalog.date.c_str());
    GtkWidget *version = gtk_label_new(text.c_str());
    gtk_widget_set_name(version, "genfill-version");
    gtk_label_set_xalign(GTK_LABEL(version), 0);
    gtk_label_set_selectable(GTK_LABEL(version), TRUE);
    gtk_widget_set_can_focus(version, FALSE);
    gtk_style_context_add_class(gtk_widget_get_style_context(version), "dim-label");
    gtk_box_pack_end(GTK_BOX(box), version, FALSE, FALSE, 0);
    gtk_widget_show(version);
    g_debug("dialog version line: %s", text.c_str());
  }
}

// The text arguments as "" where the last values left them unset (saved by a version without
// them): GTK's text fields take no NULL.
void no_null_strings(GimpProcedureConfig *config) {
  for (const char *name : {"prompt", "model", "endpoint"}) {
    gchar *raw = nullptr;
    g_object_get(config, name, &raw, nullptr);
    if (!GCharPtr(raw)) g_object_set(config, name, "", nullptr);
  }
}

// Under the fields: what the run will cost, kept up to date as the settings change (a moment
// after the last change: typing a model id asks for one estimate, not one a letter), and this
// month's spending when there is a budget. The quality and image size fields are greyed out for
// models that take none.
struct EstimateField {
  GimpProcedureDialog *dialog;
  GimpProcedureConfig *config;
  Estimator estimate;
  GtkWidget *label;
  guint pending = 0;
};

void show_estimate(EstimateField *f) {
  const DialogEstimate e = f->estimate(f->config);
  for (const auto &[name, takes] : {std::pair{"quality", e.takes_quality}, std::pair{"image-size", e.takes_image_size}})
    if (GtkWidget *w = gimp_procedure_dialog_get_widget(f->dialog, name, G_TYPE_NONE)) gtk_widget_set_sensitive(w, takes);
  std::string text;
  if (!e.problem.empty())
    text = e.problem;
  else if (!e.cost.known)
    text = _("Estimated cost: not known (the catalog has no prices for this model).");
  else
    text = format(_("Estimated cost: about %s (the catalog's prices of %s)."), usd_text(e.cost.usd).c_str(),
                  e.cost.prices_as_of.c_str());
  try {
    if (const std::optional<double> budget = monthly_budget()) {
      const std::string month = this_month_utc();
      const Spending spent = read_ledger(month + "-01");
      const double so_far = spent.by_month.count(month) ? spent.by_month.at(month).usd : 0;
      text += "\n" + format(_("This month: %s spent of a monthly budget of %s."), usd_text(so_far).c_str(),
                            usd_text(*budget).c_str());
      if (e.cost.known && so_far + e.cost.usd > *budget)
        text += " " + std::string(_("This run would go over it and will not be sent."));
    }
  } catch (const Error &err) {
    text += "\n" + std::string(err.message());
  }
  gtk_label_set_text(GTK_LABEL(f->label), text.c_str());
  g_debug("dialog estimate: %s", e.cost.known ? format("%.6f", e.cost.usd).c_str() : "none");
}

void add_estimate(GtkWidget *dlg, GimpProcedureConfig *config, const Estimator &estimate) {
  if (!estimate) return;
  GtkWidget *label = gtk_label_new(nullptr);
  gtk_widget_set_name(label, "genfill-estimate");
  gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
  gtk_label_set_xalign(GTK_LABEL(label), 0);
  gtk_label_set_selectable(GTK_LABEL(label), FALSE);
  gtk_widget_set_margin_start(label, 12);
  gtk_widget_set_margin_end(label, 12);
  gtk_box_pack_end(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dlg))), label, FALSE, FALSE, 0);
  auto *f = new EstimateField{GIMP_PROCEDURE_DIALOG(dlg), config, estimate, label};
  g_object_set_data_full(G_OBJECT(label), "genfill-estimate", f, [](gpointer p) {
    auto *field = static_cast<EstimateField *>(p);
    if (field->pending) g_source_remove(field->pending);
    delete field;
  });
  g_signal_connect_object(config, "notify", G_CALLBACK(+[](GObject *, GParamSpec *pspec, gpointer l) {
                            if (g_strcmp0(pspec->name, "prompt") == 0) return;  // the price hardly moves
                            auto *field = static_cast<EstimateField *>(g_object_get_data(G_OBJECT(l), "genfill-estimate"));
                            if (!field || field->pending) return;
                            field->pending = g_timeout_add(250, +[](gpointer p) -> gboolean {
                              auto *fl = static_cast<EstimateField *>(p);
                              fl->pending = 0;
                              show_estimate(fl);
                              return G_SOURCE_REMOVE;
                            }, field);
                          }), label, GConnectFlags(0));
  show_estimate(f);
  gtk_widget_show(label);
}

// An aspect preset fills in the margins that reach it, centred, from the image's size.
struct AspectMargins {
  int width, height;
};

void apply_aspect(GimpProcedureConfig *config, const AspectMargins &size) {
  const std::string aspect = config_string(config, "aspect");
  if (aspect.empty() || aspect == "none") return;
  try {
    const Margins m = margins_for_aspect(size.width, size.height, aspect);
    g_object_set(config, "left", m.left, "right", m.right, "top", m.top, "bottom", m.bottom, nullptr);
  } catch (const Error &) {
    // not a W:H preset: the margins stay as they are
  }
}

}  // namespace

bool run_expand_dialog(GimpProcedure *procedure, GimpProcedureConfig *config, GimpImage *image,
                       const Estimator &estimate) {
  no_null_strings(config);
  GtkWidget *dlg = gimp_procedure_dialog_new(procedure, config, _("Expand Canvas"));
  GimpProcedureDialog *d = GIMP_PROCEDURE_DIALOG(dlg);
  add_prompt_box(d, config, _("Describe the ne_w area (optional)"));
  gimp_procedure_dialog_fill_box(d, "margins-box", "left", "right", "top", "bottom", nullptr);
  gimp_procedure_dialog_fill_box(d, "more-box", "endpoint", "seed", "sample-merged", "feather", nullptr);
  add_more_options(d);
  gimp_procedure_dialog_fill(d, "provider", "model", "aspect", "margins-box", "variations", "quality",
                             "image-size", "more", nullptr);
  gimp_procedure_dialog_set_ok_label(d, _("_Expand"));
  add_model_list(d, config);
  add_key_status(d, config);
  add_key_destination(dlg, config);
  add_estimate(dlg, config, estimate);
  auto *size = new AspectMargins{gimp_image_get_width(image), gimp_image_get_height(image)};
  g_object_set_data_full(G_OBJECT(dlg), "genfill-image-size", size,
                         [](gpointer p) { delete static_cast<AspectMargins *>(p); });
  g_signal_connect_object(config, "notify::aspect", G_CALLBACK(+[](GimpProcedureConfig *c, GParamSpec *, gpointer w) {
                            apply_aspect(c, *static_cast<AspectMargins *>(g_object_get_data(G_OBJECT(w),
                                                                                              "genfill-image-size")));
                          }), dlg, GConnectFlags(0));
  apply_aspect(config, *size);
  const bool ok = gimp_procedure_dialog_run(d);
  gtk_widget_destroy(dlg);
  return ok;
}

bool run_dialog(GimpProcedure *procedure, GimpProcedureConfig *config, const char *title, bool edit,
                const Estimator &estimate) {
  no_null_strings(config);
  GtkWidget *dlg = gimp_procedure_dialog_new(procedure, config, title);
  GimpProcedureDialog *d = GIMP_PROCEDURE_DIALOG(dlg);
  add_prompt_box(d, config, _("Descr_ibe the change"));

  const bool has_aspect = gimp_procedure_find_argument(procedure, "aspect") != nullptr;
  if (edit)
    gimp_procedure_dialog_fill_box(d, "more-box", "endpoint", "seed", "sample-merged", "context", "feather", "register",
                                   "match-colours", "blend-seam", "raw", nullptr);
  else
    gimp_procedure_dialog_fill_box(d, "more-box", "endpoint", "seed", nullptr);
  add_more_options(d);
  if (edit && gimp_procedure_find_argument(procedure, "group")) {  // Edit Many: what it goes over first
    gimp_procedure_dialog_fill(d, "group", "continue-conversation", "provider", "model", "variations", "quality",
                               "image-size", "more", nullptr);
  } else if (edit) {
    gimp_procedure_dialog_fill(d, "continue-conversation", "provider", "model", "variations", "quality",
                               "image-size", "more", nullptr);
  } else if (gimp_procedure_find_argument(procedure, "transparent")) {
    gimp_procedure_dialog_fill(d, "provider", "model", has_aspect ? "aspect" : "variations", "quality",
                               "image-size", "transparent", "more", nullptr);
  } else {
    gimp_procedure_dialog_fill(d, "provider", "model", has_aspect ? "aspect" : "variations", "quality",
                               "image-size", "more", nullptr);
  }
  gimp_procedure_dialog_set_ok_label(d, edit ? _("_Edit") : _("_Generate"));
  add_model_list(d, config);
  add_key_status(d, config);
  add_key_destination(dlg, config);
  add_estimate(dlg, config, estimate);

  // References: GimpProcedureDialog makes no widget for a drawable array, so a few drawable
  // choosers (each lists the layers of every open image) stand for it.
  std::vector<GtkWidget *> choosers;
  if (gimp_procedure_find_argument(procedure, "references")) {
    std::unique_ptr<GObject *, GFreeDeleter> owned(gimp_procedure_config_get_core_object_array(config, "references"));
    GObject **refs = owned.get();
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
    GtkWidget *label =
        gtk_label_new(_("Other layers, from this or another open image, sent as extra pictures to guide the model"));
    gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(label), 50);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_box_pack_start(GTK_BOX(box), label, FALSE, FALSE, 0);
    gsize have = refs ? gimp_core_object_array_get_length(refs) : 0;
    for (int i = 0; i < kReferenceChoosers; ++i) {
      GimpDrawable *initial = gsize(i) < have && GIMP_IS_DRAWABLE(refs[i]) ? GIMP_DRAWABLE(refs[i]) : nullptr;
      const std::string name = format(_("Reference %d"), i + 1);
      GtkWidget *chooser = gimp_drawable_chooser_new(name.c_str(), name.c_str(), GIMP_TYPE_DRAWABLE, initial);
      gtk_box_pack_start(GTK_BOX(box), chooser, FALSE, FALSE, 0);
      choosers.push_back(chooser);
    }
    // Folded away like "More options" unless references are already set.
    GtkWidget *expander = gtk_expander_new_with_mnemonic(_("Re_ference layers"));
    gtk_expander_set_expanded(GTK_EXPANDER(expander), have > 0);
    gtk_container_add(GTK_CONTAINER(expander), box);
    gtk_container_set_border_width(GTK_CONTAINER(expander), 12);
    gtk_box_pack_end(GTK_BOX(gtk_dialog_get_content_area(GTK_DIALOG(dlg))), expander, FALSE, FALSE, 0);
    gtk_widget_show_all(expander);
  }

  gboolean ok = gimp_procedure_dialog_run(d);
  if (ok && !choosers.empty()) {
    std::vector<GObject *> picked;
    for (GtkWidget *c : choosers)
      if (GimpDrawable *dr = gimp_drawable_chooser_get_drawable(GIMP_DRAWABLE_CHOOSER(c))) picked.push_back(G_OBJECT(dr));
    if (picked.empty())
      g_object_set(config, "references", nullptr, nullptr);  // GIMP 3.0 refuses an empty array
    else
      gimp_procedure_config_set_core_object_array(config, "references", picked.data(), picked.size());
  }
  gtk_widget_destroy(dlg);
  return ok;
}

bool run_spending_dialog() {
  GtkWidget *dlg = gimp_dialog_new(_("Spending and Budget"), "genfill-spending", nullptr, GtkDialogFlags(0),
                                   nullptr, nullptr, _("_Cancel"),
                                   GTK_RESPONSE_CANCEL, _("_Save"), GTK_RESPONSE_OK, nullptr);
  GtkWidget *box = gtk_dialog_get_content_area(GTK_DIALOG(dlg));
  gtk_container_set_border_width(GTK_CONTAINER(box), 12);
  gtk_box_set_spacing(GTK_BOX(box), 8);

  // What the ledger holds: this month, then every month, service and model.
  std::string text;
  std::optional<double> budget;
  std::string source;
  try {
    const Spending all = read_ledger();
    const std::string month = this_month_utc();
    const SpendingLine now = all.by_month.count(month) ? all.by_month.at(month) : SpendingLine{};
    text = format(g_dngettext(GETTEXT_PACKAGE, "This month (%s): %s in %lld call.", "This month (%s): %s in %lld calls.",
                              gulong(now.calls)),
                  month.c_str(), usd_text(now.usd).c_str(), static_cast<long long>(now.calls));
    if (all.calls > now.calls)
      text += "\n" + format(g_dngettext(GETTEXT_PACKAGE, "In all: %s in %lld call.", "In all: %s in %lld calls.",
                                        gulong(all.calls)),
                            usd_text(all.total_usd).c_str(), static_cast<long long>(all.calls));
    for (const auto &[model, line] : all.by_model)
      text += "\n  " + model + ": " + usd_text(line.usd);
    text += "\n\n" + format(_("Each call a service bills is recorded in %s, from GIMP and from the genfill command "
                               "alike (genfill usage sums it)."),
                             ledger_path().c_str());
    budget = monthly_budget(&source);
  } catch (const Error &e) {
    text = e.message();
  }
  GtkWidget *summary = gtk_label_new(text.c_str());
  gtk_widget_set_name(summary, "genfill-spending-summary");
  gtk_label_set_line_wrap(GTK_LABEL(summary), TRUE);
  gtk_label_set_max_width_chars(GTK_LABEL(summary), 60);
  gtk_label_set_xalign(GTK_LABEL(summary), 0);
  gtk_label_set_selectable(GTK_LABEL(summary), TRUE);
  gtk_box_pack_start(GTK_BOX(box), summary, FALSE, FALSE, 0);

  GtkWidget *use = gtk_check_button_new_with_mnemonic(_("_Refuse runs that would go over a monthly budget"));
  gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(use), budget.has_value());
  GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *amount_label = gtk_label_new_with_mnemonic(_("Monthly _budget (US dollars)"));
  GtkWidget *amount = gtk_spin_button_new_with_range(0, 1e6, 1);
  gtk_widget_set_name(amount, "genfill-budget");
  gtk_spin_button_set_digits(GTK_SPIN_BUTTON(amount), 2);
  gtk_spin_button_set_value(GTK_SPIN_BUTTON(amount), budget ? *budget : 20);
  gtk_entry_set_activates_default(GTK_ENTRY(amount), TRUE);
  gtk_label_set_mnemonic_widget(GTK_LABEL(amount_label), amount);
  gtk_box_pack_start(GTK_BOX(row), amount_label, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(row), amount, FALSE, FALSE, 0);
  g_object_bind_property(use, "active", row, "sensitive", G_BINDING_SYNC_CREATE);
  gtk_box_pack_start(GTK_BOX(box), use, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), row, FALSE, FALSE, 0);
  const bool from_variable = source == "GENFILL_MONTHLY_BUDGET_USD";
  if (from_variable) {  // the environment wins: what is saved here would not apply
    GtkWidget *note = gtk_label_new(
        _("GENFILL_MONTHLY_BUDGET_USD sets the budget for this session; change it where GIMP is started."));
    gtk_label_set_line_wrap(GTK_LABEL(note), TRUE);
    gtk_label_set_xalign(GTK_LABEL(note), 0);
    gtk_box_pack_start(GTK_BOX(box), note, FALSE, FALSE, 0);
    gtk_widget_set_sensitive(use, FALSE);
    gtk_widget_set_sensitive(row, FALSE);
  }
  gtk_dialog_set_default_response(GTK_DIALOG(dlg), GTK_RESPONSE_OK);
  gimp_window_set_transient(GTK_WINDOW(dlg));
  gtk_widget_show_all(dlg);
  bool saved = false;
  if (gimp_dialog_run(GIMP_DIALOG(dlg)) == GTK_RESPONSE_OK && !from_variable) {
    gtk_spin_button_update(GTK_SPIN_BUTTON(amount));
    const std::optional<double> wanted = gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(use))
                                             ? std::optional<double>(gtk_spin_button_get_value(GTK_SPIN_BUTTON(amount)))
                                             : std::nullopt;
    try {
      set_monthly_budget(wanted);
      saved = true;
    } catch (const Error &e) {
      gimp_message(e.message());
    }
  }
  gtk_widget_destroy(dlg);
  return saved;
}

}  // namespace genfill::plugin
