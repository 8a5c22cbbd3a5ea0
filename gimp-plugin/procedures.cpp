// genfill plug-in — what each procedure does when run: gather its settings and pixels, hand them
// to core/edit, show progress, place the answer (see procedures.hpp).
#include "gimp-plugin/procedures.hpp"

#include <algorithm>
#include <future>
#include <memory>
#include <vector>

#include "core/edit/expand.hpp"
#include "core/cost/ledger.hpp"
#include "core/edit/job.hpp"
#include "core/image/image.hpp"
#include "core/util/error.hpp"
#include "core/util/i18n.hpp"
#include "gimp-plugin/common.hpp"
#include "gimp-plugin/dialog.hpp"
#include "gimp-plugin/pixels.hpp"
#include "gimp-plugin/timings.hpp"

namespace genfill::plugin {

namespace {

// The settings every procedure shares, from its arguments.
JobSettings settings_from(GimpProcedureConfig *config, bool with_variations = true) {
  JobSettings s;
  s.provider = config_string(config, "provider");
  s.model = trim(config_string(config, "model"));
  s.endpoint = trim(config_string(config, "endpoint"));
  s.prompt = trim(config_string(config, "prompt"));
  s.variations = with_variations ? config_int(config, "variations") : 1;
  int seed = config_int(config, "seed");
  if (seed >= 0) s.seed = seed;
  if (const std::string q = config_string(config, "quality"); q != "default") s.quality = q;
  if (const std::string size = config_string(config, "image-size"); size != "auto") s.image_size = size;
  // At least a second; what is no time at all (0, "nan", "inf", words) is left for the core to
  // refuse with a clear message (std::max would turn "nan" into a second).
  if (const char *t = g_getenv("GENFILL_TIMEOUT")) {
    const double v = g_ascii_strtod(t, nullptr);
    s.transport.timeout_s = v > 0 ? std::max(1.0, v) : v;
  }
  return s;
}

// The dialog greys out the quality and image size of models that take none: there, whatever
// they hold is left out rather than refused. (A quality the model does not take is refused.)
void drop_what_the_model_takes_not(JobSettings &s, Task task) {
  if (s.quality.empty() && s.image_size.empty()) return;
  JobSettings plain = s;
  plain.quality.clear();
  plain.image_size.clear();
  try {
    const PreparedJob any = prepare(plain, task, false);
    if (any.model.qualities.empty()) s.quality.clear();
    if (any.model.image_sizes.empty()) s.image_size.clear();
  } catch (const Error &) {
    // the run itself says what is wrong
  }
}

// What the dialog shows for the settings as they stand: which fields the model takes, then the
// estimate `cost_of` makes for the prepared job (no key needed; nothing sent).
template <typename CostOf>
DialogEstimate dialog_estimate(JobSettings s, Task task, CostOf &&cost_of) {
  DialogEstimate e;
  if (s.prompt.empty()) s.prompt = "-";  // the price hardly depends on it
  try {
    JobSettings plain = s;
    plain.quality.clear();
    plain.image_size.clear();
    const PreparedJob any = prepare(plain, task, false);
    e.takes_quality = !any.model.qualities.empty();
    e.takes_image_size = !any.model.image_sizes.empty();
    drop_what_the_model_takes_not(s, task);
    e.cost = cost_of(prepare(s, task, false));
  } catch (const Error &err) {
    e.problem = err.message();
  }
  return e;
}

// After a run, with a display: what it cost.
void tell_cost(bool ui, const JobResult &r) {
  if (!ui || !r.cost.known) return;
  gimp_message(r.cost.estimated
                   ? format(_("Done. This cost about %s with %s (the service reported no usage: estimated)."),
                            usd_text(r.cost.usd).c_str(), r.model.c_str())
                         .c_str()
                   : format(_("Done. This cost %s with %s (the usage the service reported, at the catalog's prices "
                              "of %s)."),
                            usd_text(r.cost.usd).c_str(), r.model.c_str(), r.cost.prices_as_of.c_str())
                         .c_str());
}

// The part of the image an edit works in: the layer (within the canvas when sampling what is
// seen), in image coordinates, and the selection's bounds within it (empty = all of it).
struct EditArea {
  Rect bounds, selection;
};

EditArea edit_area(GimpImage *image, GimpDrawable *drawable, bool sample_merged) {
  gint ox = 0, oy = 0;
  gimp_drawable_get_offsets(drawable, &ox, &oy);
  Rect bounds{ox, oy, gimp_drawable_get_width(drawable), gimp_drawable_get_height(drawable)};
  if (sample_merged) {
    int x0 = std::max(bounds.x, 0), y0 = std::max(bounds.y, 0);
    int x1 = std::min(bounds.right(), gimp_image_get_width(image)),
        y1 = std::min(bounds.bottom(), gimp_image_get_height(image));
    if (x1 <= x0 || y1 <= y0) throw Error(ErrorCode::InvalidInput, _("The layer lies outside the canvas."));
    bounds = Rect{x0, y0, x1 - x0, y1 - y0};
  }
  gboolean non_empty = FALSE;
  gint sx1 = 0, sy1 = 0, sx2 = 0, sy2 = 0;
  gimp_selection_bounds(image, &non_empty, &sx1, &sy1, &sx2, &sy2);
  Rect selection;  // relative to bounds
  if (non_empty) {
    int x0 = std::max(sx1, bounds.x), y0 = std::max(sy1, bounds.y);
    int x1 = std::min(sx2, bounds.right()), y1 = std::min(sy2, bounds.bottom());
    if (x1 <= x0 || y1 <= y0) throw Error(ErrorCode::InvalidInput, _("The selection does not touch this layer."));
    selection = Rect{x0 - bounds.x, y0 - bounds.y, x1 - x0, y1 - y0};
  }
  return {bounds, selection};
}

// Generate Layer's size: the selection's box, else the image.
Rect generated_area(GimpImage *image) {
  gboolean non_empty = FALSE;
  gint x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  gimp_selection_bounds(image, &non_empty, &x1, &y1, &x2, &y2);
  return non_empty ? Rect{x1, y1, x2 - x1, y2 - y1} : Rect{0, 0, gimp_image_get_width(image), gimp_image_get_height(image)};
}

// Expand Canvas's margins: the aspect preset's, else as given.
Margins expand_margins(GimpProcedureConfig *config, GimpImage *image) {
  const std::string aspect = config_string(config, "aspect");
  return aspect.empty() || aspect == "none"
             ? Margins{config_int(config, "left"), config_int(config, "right"), config_int(config, "top"),
                       config_int(config, "bottom")}
             : margins_for_aspect(gimp_image_get_width(image), gimp_image_get_height(image), aspect);
}

// An edit's settings from its arguments, checked as far as they can be before any pixel is read.
JobSettings edit_settings(GimpProcedureConfig *config) {
  JobSettings settings = settings_from(config);
  if (settings.prompt.empty())
    throw Error(ErrorCode::InvalidInput, _("Describe the change you want: the prompt is empty."));
  gboolean reg = TRUE, colours = TRUE, blend = TRUE, raw = FALSE;
  g_object_get(config, "register", &reg, "match-colours", &colours, "blend-seam", &blend, "raw", &raw, nullptr);
  settings.seam = raw ? seam::Options::raw() : seam::Options{bool(reg), bool(colours), bool(blend)};
  // Only the region is read, at the size it is uploaded; GIMP scales the answer back up.
  settings.results_at_upload_scale = true;
  drop_what_the_model_takes_not(settings, Task::Edit);
  return settings;
}

// One layer edited as Edit with Prompt does: its region read, sent through core/edit, the answer
// placed in new layers above it. `title`: the progress window's, "" = the usual.
std::vector<GimpLayer *> edit_layer(GimpImage *image, GimpDrawable *drawable, GimpProcedureConfig *config,
                                    const PreparedJob &job, std::vector<Image> references, bool ui,
                                    GimpRunMode run_mode, StageClock &clock, const std::string &title) {
  const JobSettings &settings = job.settings;
  gboolean sample_merged = TRUE;
  gdouble feather_px = 8;
  g_object_get(config, "sample-merged", &sample_merged, "feather", &feather_px, nullptr);
  int context = config_int(config, "context");
  gboolean continue_conversation = TRUE;
  g_object_get(config, "continue-conversation", &continue_conversation, nullptr);
  EditInput input;
  input.references = std::move(references);
  input.context = context / 100.0;
  // Layer by layer: a layer genfill made carries its conversation; its earlier turns go with
  // this request. Without the cache (the file came from elsewhere) it is a single turn.
  if (continue_conversation) {
    input.conversation = layer_conversation(drawable);
    input.conversation_gone = [ui] {
      const char *gone = _("The earlier steps of this layer's conversation are not on this computer: this edit "
                           "starts afresh from the layer as it is.");
      if (ui) gimp_message(gone);
      else g_message("%s", gone);
    };
  }

  // Work within the layer (and, for what the user sees, within the canvas), in image coordinates.
  const EditArea area = edit_area(image, drawable, sample_merged);
  LayerSource source(image, drawable, area.bounds, area.selection, sample_merged, clock,
                     [&](Rect where, std::future<Mask> layer_mask) {
                       return std::make_unique<NewLayers>(image, where, settings.variations,
                                                          short_prompt(settings.prompt), std::move(layer_mask));
                     },
                     feather_px);

  EditResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
    return run_edit(job, input, source, cancel, progress);
  }, title);
  clock.mark("job");
  clock.add(result.timings);

  NewLayers &layers = source.layers();
  layers.prepare();  // what the wait did not cover (nothing, when the service takes a while)
  source.drop_selection();
  clock.mark("feather");
  std::vector<GimpLayer *> placed = layers.place(drawable, result, settings.prompt, settings.seed, result.conversation);
  if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
  clock.mark("insert");
  if (clock.enabled())
    clock.write(kEdit, source.where(), result.bytes_sent, result.upload_bytes, settings.variations);
  tell_cost(ui, result);
  return placed;
}

}  // namespace

GimpValueArray *run_edit_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                              GimpDrawable **drawables, GimpProcedureConfig *config, gpointer) {
  // Pixels pass through GEGL's tile cache on their way in and out; GIMP gives plug-ins its own
  // large cache size, which would keep a second copy of a whole layer here. Reading in 4 MB bands
  // and writing in 2 MB strips, each once and in order, needs little more than one band
  // (16 MB measured no faster, and 8 MB higher at the peak of a whole 24 MP layer).
  g_object_set(gegl_config(), "tile-cache-size", guint64(6) << 20, nullptr);
  const bool ui = init_ui(run_mode);
  if (gimp_core_object_array_get_length(reinterpret_cast<GObject **>(drawables)) != 1)
    return fail(procedure, ui, _("Select exactly one layer to edit."));
  GimpDrawable *drawable = drawables[0];
  if (!GIMP_IS_LAYER(drawable) || GIMP_IS_LAYER_MASK(drawable))
    return fail(procedure, ui, _("Select a layer to edit (not a mask or a channel)."));
  const Estimator estimate = [image, drawable](GimpProcedureConfig *c) {
    return dialog_estimate(settings_from(c), Task::Edit, [&](const PreparedJob &job) {
      gboolean sample_merged = TRUE, continue_conversation = TRUE;
      g_object_get(c, "sample-merged", &sample_merged, "continue-conversation", &continue_conversation, nullptr);
      const EditArea area = edit_area(image, drawable, sample_merged);
      EditInput input;
      input.context = config_int(c, "context") / 100.0;
      if (continue_conversation) input.conversation = layer_conversation(drawable);
      return estimate_edit(job, input, area.bounds.w, area.bounds.h, area.selection);
    });
  };
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Edit with Prompt"), true, estimate))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);

  StageClock clock;
  return guarded(procedure, ui, [&] {
    return with_way_outs(ui, config, [&]() -> GimpValueArray * {
    JobSettings settings = edit_settings(config);
    // A model that only generates is said so before a key is asked for.
    const PreparedJob job = prepare_with_key(settings, ui, Task::Edit);
    std::vector<GimpLayer *> placed =
        edit_layer(image, drawable, config, job, read_references(config), ui, run_mode, clock, {});
    return layers_return(procedure, placed);
    });
  });
}

GimpValueArray *run_generate_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                  GimpDrawable **drawables, GimpProcedureConfig *config, gpointer) {
  const bool ui = init_ui(run_mode);
  const Estimator estimate = [image](GimpProcedureConfig *c) {
    return dialog_estimate(settings_from(c), Task::Generate, [&](const PreparedJob &job) {
      const Rect where = generated_area(image);
      return estimate_generate(job, "", where.w, where.h, {});
    });
  };
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Generate Layer"), false, estimate))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);
  return guarded(procedure, ui, [&] {
    return with_way_outs(ui, config, [&]() -> GimpValueArray * {
    JobSettings settings = settings_from(config);
    if (settings.prompt.empty())
      throw Error(ErrorCode::InvalidInput, _("Describe the picture you want: the prompt is empty."));
    gboolean transparent = FALSE;
    g_object_get(config, "transparent", &transparent, nullptr);
    settings.transparent = transparent;
    drop_what_the_model_takes_not(settings, Task::Generate);
    const PreparedJob job = prepare_with_key(settings, ui, Task::Generate);
    std::vector<Image> references = read_references(config);
    const Rect where = generated_area(image);
    NewLayers layers(image, where, settings.variations, short_prompt(settings.prompt));
    layers.prepare_while_waiting();
    JobResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
      return run_generate(job, "", where.w, where.h, references, cancel, progress);
    });
    GimpDrawable *anchor = nullptr;
    if (drawables && drawables[0] && GIMP_IS_LAYER(drawables[0]) && !GIMP_IS_LAYER_MASK(drawables[0]))
      anchor = drawables[0];
    std::vector<GimpLayer *> placed = layers.place(anchor, result, settings.prompt, settings.seed);
    if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
    tell_cost(ui, result);
    return layers_return(procedure, placed);
    });
  });
}

GimpValueArray *run_new_image_proc(GimpProcedure *procedure, GimpProcedureConfig *config, gpointer) {
  GimpRunMode run_mode = GIMP_RUN_NONINTERACTIVE;
  g_object_get(config, "run-mode", &run_mode, nullptr);
  const bool ui = init_ui(run_mode);
  const Estimator estimate = [](GimpProcedureConfig *c) {
    return dialog_estimate(settings_from(c, false), Task::Generate, [&](const PreparedJob &job) {
      return estimate_generate(job, config_string(c, "aspect"), 0, 0, {});
    });
  };
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Image from Prompt"), false, estimate))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);
  return guarded(procedure, ui, [&] {
    return with_way_outs(ui, config, [&]() -> GimpValueArray * {
    JobSettings settings = settings_from(config, false);
    if (settings.prompt.empty())
      throw Error(ErrorCode::InvalidInput, _("Describe the picture you want: the prompt is empty."));
    std::string aspect = config_string(config, "aspect");
    drop_what_the_model_takes_not(settings, Task::Generate);
    const PreparedJob job = prepare_with_key(settings, ui, Task::Generate);
    JobResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
      return run_generate(job, aspect, 0, 0, {}, cancel, progress);
    });
    const Image &img = result.images.front();
    GimpImage *image = gimp_image_new(img.width, img.height, GIMP_RGB);
    gimp_image_undo_disable(image);
    NewLayers(image, Rect{0, 0, img.width, img.height}, int(result.images.size()), short_prompt(settings.prompt))
        .place(nullptr, result, settings.prompt, settings.seed);
    gimp_image_undo_enable(image);
    if (ui) gimp_display_new(image);
    tell_cost(ui, result);
    GimpValueArray *ret = gimp_procedure_new_return_values(procedure, GIMP_PDB_SUCCESS, nullptr);
    GIMP_VALUES_SET_IMAGE(ret, 1, image);
    return ret;
    });
  });
}

GimpValueArray *run_expand_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                GimpDrawable **drawables, GimpProcedureConfig *config, gpointer) {
  g_object_set(gegl_config(), "tile-cache-size", guint64(6) << 20, nullptr);  // as for edits
  const bool ui = init_ui(run_mode);
  if (gimp_core_object_array_get_length(reinterpret_cast<GObject **>(drawables)) != 1)
    return fail(procedure, ui, _("Select exactly one layer to edit."));
  GimpDrawable *drawable = drawables[0];
  if (!GIMP_IS_LAYER(drawable) || GIMP_IS_LAYER_MASK(drawable))
    return fail(procedure, ui, _("Select a layer to edit (not a mask or a channel)."));
  const Estimator estimate = [image](GimpProcedureConfig *c) {
    return dialog_estimate(settings_from(c), Task::Edit, [&](const PreparedJob &job) {
      ExpandInput input;
      input.margins = expand_margins(c, image);
      return estimate_expand(job, input, gimp_image_get_width(image), gimp_image_get_height(image));
    });
  };
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_expand_dialog(procedure, config, image, estimate))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);

  return guarded(procedure, ui, [&] {
    return with_way_outs(ui, config, [&]() -> GimpValueArray * {
    JobSettings settings = settings_from(config);  // the prompt may be empty: the scene continues
    settings.results_at_upload_scale = true;       // GIMP scales the answer up
    gboolean sample_merged = TRUE;
    gdouble feather_px = 8;
    g_object_get(config, "sample-merged", &sample_merged, "feather", &feather_px, nullptr);
    ExpandInput input;
    input.feather_px = feather_px;
    input.margins = expand_margins(config, image);
    drop_what_the_model_takes_not(settings, Task::Edit);
    const PreparedJob job = prepare_with_key(settings, ui, Task::Edit);
    CanvasSource source(image, drawable, sample_merged);
    ExpandResult result = while_waiting(ui, job, [&](GCancellable *cancel, const ProgressSink &progress) {
      return run_expand(job, input, source, cancel, progress);
    });

    // Only now, with the answer in memory, does the image change: its canvas grows (the layers
    // keep their pixels and move with it, as Image > Canvas Size does) and the new layers land,
    // in one undo step.
    const Rect where = result.plan.region;
    std::promise<Mask> mask;
    mask.set_value(expand_layer_mask(result, where.w, where.h));
    NewLayers layers(image, where, settings.variations,
                     settings.prompt.empty() ? std::string(_("Expansion")) : short_prompt(settings.prompt),
                     mask.get_future());
    layers.set_margins(input.margins);
    layers.prepare();
    struct UndoGroup {
      GimpImage *image;
      explicit UndoGroup(GimpImage *i) : image(i) { gimp_image_undo_group_start(image); }
      ~UndoGroup() { gimp_image_undo_group_end(image); }
    } group(image);
    if (!gimp_image_resize(image, result.canvas_w, result.canvas_h, result.old.x, result.old.y))
      throw Error(ErrorCode::InvalidInput, _("GIMP could not grow the canvas."));
    std::vector<GimpLayer *> placed = layers.place(drawable, result, settings.prompt, settings.seed, result.conversation);
    if (run_mode != GIMP_RUN_NONINTERACTIVE) gimp_displays_flush();
    tell_cost(ui, result);
    return layers_return(procedure, placed);
    });
  });
}

GimpValueArray *run_spending_proc(GimpProcedure *procedure, GimpProcedureConfig *config, gpointer) {
  GimpRunMode run_mode = GIMP_RUN_NONINTERACTIVE;
  g_object_get(config, "run-mode", &run_mode, nullptr);
  const bool ui = init_ui(run_mode);
  return guarded(procedure, ui, [&] {
    if (run_mode == GIMP_RUN_INTERACTIVE) {
      run_spending_dialog();
    } else if (const std::string action = config_string(config, "budget-action"); action == "set") {
      gdouble amount = 0;
      g_object_get(config, "monthly-budget", &amount, nullptr);
      set_monthly_budget(amount);
    } else if (action == "remove") {
      set_monthly_budget(std::nullopt);
    }
    const Spending all = read_ledger();
    const std::string month = this_month_utc();
    const std::optional<double> budget = monthly_budget();
    GimpValueArray *ret = gimp_procedure_new_return_values(procedure, GIMP_PDB_SUCCESS, nullptr);
    GIMP_VALUES_SET_DOUBLE(ret, 1, all.by_month.count(month) ? all.by_month.at(month).usd : 0.0);
    GIMP_VALUES_SET_DOUBLE(ret, 2, all.total_usd);
    GIMP_VALUES_SET_INT(ret, 3, int(std::min<int64_t>(all.calls, G_MAXINT)));
    GIMP_VALUES_SET_DOUBLE(ret, 4, budget ? *budget : -1.0);
    return ret;
  });
}

}  // namespace genfill::plugin

namespace genfill::plugin {

namespace {

// What Edit Many goes over: every open image (its selected layer, else its top layer, with its
// own selection), or every layer of the selected layer group (with the image's selection).
struct Target {
  GimpImage *image;
  GimpDrawable *drawable;
};

std::vector<Target> many_targets(bool group_layers, GimpImage *image, GimpDrawable **drawables) {
  std::vector<Target> out;
  auto usable = [](GimpItem *item) {
    return GIMP_IS_LAYER(item) && !GIMP_IS_LAYER_MASK(item) && !gimp_item_is_group(item);
  };
  if (group_layers) {
    GimpDrawable *group = drawables && drawables[0] ? drawables[0] : nullptr;
    if (!group || !gimp_item_is_group(GIMP_ITEM(group)))
      throw Error(ErrorCode::InvalidInput, _("Select a layer group: each of its layers is edited."));
    std::unique_ptr<GimpItem *, GFreeDeleter> children(gimp_item_get_children(GIMP_ITEM(group)));
    for (GimpItem **c = children.get(); c && *c; ++c)
      if (usable(*c)) out.push_back({image, GIMP_DRAWABLE(*c)});
    if (out.empty()) throw Error(ErrorCode::InvalidInput, _("The layer group holds no layer to edit."));
    return out;
  }
  std::unique_ptr<GimpImage *, GFreeDeleter> images(gimp_get_images());
  for (GimpImage **i = images.get(); i && *i; ++i) {
    std::unique_ptr<GimpLayer *, GFreeDeleter> selected(gimp_image_get_selected_layers(*i));
    std::unique_ptr<GimpLayer *, GFreeDeleter> all(gimp_image_get_layers(*i));
    GimpLayer *layer = selected && selected.get()[0] && usable(GIMP_ITEM(selected.get()[0])) ? selected.get()[0]
                       : all && all.get()[0] && usable(GIMP_ITEM(all.get()[0]))           ? all.get()[0]
                                                                                          : nullptr;
    if (layer) out.push_back({*i, GIMP_DRAWABLE(layer)});
  }
  if (out.empty()) throw Error(ErrorCode::InvalidInput, _("No open image has a layer to edit."));
  return out;
}

}  // namespace

GimpValueArray *run_edit_many_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                   GimpDrawable **drawables, GimpProcedureConfig *config, gpointer) {
  g_object_set(gegl_config(), "tile-cache-size", guint64(6) << 20, nullptr);
  const bool ui = init_ui(run_mode);
  std::vector<Target> targets;
  try {
    gboolean group = FALSE;
    g_object_get(config, "group", &group, nullptr);
    targets = many_targets(group, image, drawables);
  } catch (const Error &e) {
    return fail(procedure, ui, e.message());
  }
  // The estimate: one edit of the first target, times the targets (as the choice stands when
  // the dialog opened).
  const Estimator estimate = [targets](GimpProcedureConfig *c) {
    return dialog_estimate(settings_from(c), Task::Edit, [&](const PreparedJob &job) {
      gboolean sample_merged = TRUE;
      g_object_get(c, "sample-merged", &sample_merged, nullptr);
      EditInput input;
      input.context = config_int(c, "context") / 100.0;
      Cost sum;
      for (const Target &t : targets) {
        const EditArea area = edit_area(t.image, t.drawable, sample_merged);
        const Cost one = estimate_edit(job, input, area.bounds.w, area.bounds.h, area.selection);
        sum.usd += one.usd;
        sum.known = one.known;
        sum.prices_as_of = one.prices_as_of;
      }
      return sum;
    });
  };
  if (run_mode == GIMP_RUN_INTERACTIVE && !run_dialog(procedure, config, _("Edit Many with Prompt"), true, estimate))
    return gimp_procedure_new_return_values(procedure, GIMP_PDB_CANCEL, nullptr);

  StageClock clock;
  return guarded(procedure, ui, [&] {
    return with_way_outs(ui, config, [&]() -> GimpValueArray * {
      JobSettings settings = edit_settings(config);
      const PreparedJob job = prepare_with_key(settings, ui, Task::Edit);
      const std::vector<Image> references = read_references(config);
      // One edit after another through the same flow as Edit with Prompt (GIMP's pixels are
      // read and written on this thread); a target that fails is named and the others still run.
      std::vector<GimpLayer *> placed;
      std::vector<std::string> failed;
      const int n = int(targets.size());
      for (int i = 0; i < n; ++i) {
        const Target &t = targets[size_t(i)];
        GCharPtr name(gimp_item_get_name(GIMP_ITEM(t.drawable)));
        const std::string title = format(_("%d of %d, %s: waiting for %s…"), i + 1, n, name.get(),
                                         job.short_service.c_str());
        try {
          for (GimpLayer *l : edit_layer(t.image, t.drawable, config, job, references, ui, run_mode, clock, title))
            placed.push_back(l);
        } catch (const Error &e) {
          if (e.code() == ErrorCode::Cancelled) throw;  // what was placed stays, each its own undo step
          failed.push_back(format(_("%s: %s"), name.get(), e.message()));
        }
      }
      if (!failed.empty()) {
        std::string all;
        for (const std::string &f : failed) all += "\n" + f;
        const std::string text = format(_("%d of %d edits failed:%s"), int(failed.size()), n, all.c_str());
        if (placed.empty()) throw Error(ErrorCode::BadRequest, text);
        if (ui) gimp_message(text.c_str());
        else g_message("%s", text.c_str());
      }
      return layers_return(procedure, placed);
    });
  });
}

}  // namespace genfill::plugin
