// genfill — command line: genfill edit and genfill generate.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "core/edit/services.hpp"
#include "core/image/image.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"
#include "core/util/text.hpp"

namespace genfill::cli {

int cmd_edit(int argc, char **argv) {
  Common c;
  gchar *mask_path = nullptr, *continue_id = nullptr;
  gchar **refs = nullptr;
  gdouble context = 25, feather_px = 4;
  gboolean no_register = FALSE, no_colours = FALSE, no_blend = FALSE, raw = FALSE;
  GOptionEntry entries[] = {
      {"mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path,
       N_("Area to change: white (or opaque) pixels; default: the whole image"), "MASK.png"},
      {"reference", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &refs, N_("Extra picture to guide the model (repeatable)"),
       "REF.png"},
      {"context", 0, 0, G_OPTION_ARG_DOUBLE, &context,
       N_("Context sent around the selection, percent of its size (default 25)"), "PCT"},
      {"feather", 0, 0, G_OPTION_ARG_DOUBLE, &feather_px,
       N_("Soften the selection's edge inwards by this many pixels (default 4)"), "PX"},
      {"continue", 0, 0, G_OPTION_ARG_STRING, &continue_id,
       N_("Continue an earlier edit's conversation (its id is printed by --json); INPUT is that edit's result"),
       "ID"},
      {"no-register", 0, 0, G_OPTION_ARG_NONE, &no_register,
       N_("Do not correct the shift and scale of the model's answer"), nullptr},
      {"no-colour-match", 0, 0, G_OPTION_ARG_NONE, &no_colours,
       N_("Do not correct the colours of the model's answer"), nullptr},
      {"no-blend", 0, 0, G_OPTION_ARG_NONE, &no_blend,
       N_("Do not blend the answer into its surroundings across the selection's edge"), nullptr},
      {"raw", 0, 0, G_OPTION_ARG_NONE, &raw,
       N_("Composite the model's pixels untouched (no registration, colour match or blend)"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("INPUT - edit a picture with a prompt"), entries);
  add_common(ctx.get(), c);
  const bool ok = parse_options(ctx.get(), argc, argv);
  GCharPtr mask_holder(mask_path), continue_holder(continue_id);
  std::unique_ptr<gchar *, void (*)(gchar **)> refs_holder(refs, [](gchar **v) { g_strfreev(v); });
  if (!ok) return kExitUsage;
  if (argc != 2 || (!c.output && !c.estimate) || !c.prompt) {
    std::fprintf(stderr, "%s\n", _("genfill edit: give one INPUT, --prompt and -o OUTPUT.png (see genfill edit --help)"));
    return kExitUsage;
  }
  setup_logging(c);
  try {
    if (context < 0 || context > 400) throw Error(ErrorCode::InvalidInput, _("--context must be 0-400 percent."));
    if (feather_px < 0 || feather_px > 500) throw Error(ErrorCode::InvalidInput, _("--feather must be 0-500 px."));
    std::vector<std::string> inputs = {argv[1]};
    if (mask_path) inputs.push_back(mask_path);
    for (gchar **r = refs; r && *r; ++r) inputs.push_back(*r);
    std::vector<std::string> names = c.estimate ? std::vector<std::string>{} : output_names(c.output, c.n);
    if (!c.estimate) check_outputs(names, inputs, c.force);
    Cancel cancel;  // from here on Ctrl-C stops whatever is under way, and nothing is written
    JobSettings s = settings_from(c);
    s.seam = raw ? seam::Options::raw()
                 : seam::Options{!no_register, !no_colours, !no_blend};
    // A bad provider, model or key, or a model that only generates: said before anything is read.
    const PreparedJob job = prepare(s, Task::Edit, !c.estimate);
    EditInput edit;
    edit.context = context / 100.0;
    if (continue_id) {
      if (!is_conversation_id(continue_id))
        throw Error(ErrorCode::InvalidInput,
                    format(_("\"%s\" is not a conversation id: give the id that --json printed."), continue_id));
      edit.conversation = continue_id;
      if (!c.quiet)
        edit.conversation_gone = [] {
          std::fprintf(stderr, "%s\n",
                       _("The earlier steps of this conversation are gone from the cache: this edit starts afresh "
                         "from the picture as it is."));
        };
    }

    Image input = load_image_file(argv[1]);
    std::optional<Mask> mask;
    if (mask_path) mask = load_selection_mask(mask_path, input.width, input.height);
    for (gchar **r = refs; r && *r; ++r) edit.references.push_back(load_image_file(*r));
    cancel.check();
    if (c.estimate)
      return print_estimate(c, job, estimate_edit(job, edit, input.width, input.height, mask ? mask_bounds(*mask) : Rect{}));

    PictureSource source(input, mask);
    Previews previews(c.previews, c.force, &input);
    EditResult result;
    {
      Reporter reporter(c.quiet);
      result = run_edit(job, edit, source, cancel.c, [&](const Progress &p) {
        reporter.stage(p);
        previews.take(p);
      });
    }
    cancel.check();
    for (const seam::Report &sr : result.seam) g_debug("seam: %s (%.0f ms)", sr.summary().c_str(), sr.seconds * 1000);
    std::vector<Image> outputs;
    for (size_t i = 0; i < result.images.size(); ++i) outputs.push_back(composite_result(input, result, i, feather_px));
    if (outputs.size() < names.size()) names.resize(outputs.size());
    write_all(outputs, names, cancel, c.force);
    previews.keep();
    if (!result.text.empty() && !c.json)
      std::fprintf(stderr, "%s\n", format(_("The model said: %s"), printable(result.text).c_str()).c_str());
    if (c.json) print_success_json("edit", result, names, result.plan.region, result.conversation);
    else if (!c.quiet) for (const std::string &n : names) std::fprintf(stderr, _("Wrote %s\n"), n.c_str());
    say_cost(c, result);
    return kExitOk;
  } catch (const UsageError &e) {
    report_error(e, c.json);
    return kExitUsage;
  } catch (const Error &e) {
    return report_error(e, c.json);
  }
}

int cmd_generate(int argc, char **argv) {
  Common c;
  gchar *size = nullptr, *aspect = nullptr;
  gchar **refs = nullptr;
  gboolean transparent = FALSE;
  GOptionEntry entries[] = {
      {"size", 's', 0, G_OPTION_ARG_STRING, &size, N_("Output size, e.g. 1536x1024"), "WxH"},
      {"aspect", 'a', 0, G_OPTION_ARG_STRING, &aspect, N_("Aspect ratio, e.g. 16:9 (default 1:1)"), "W:H"},
      {"reference", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &refs, N_("Picture to guide the model (repeatable)"),
       "REF.png"},
      {"transparent", 0, 0, G_OPTION_ARG_NONE, &transparent,
       N_("Transparent background (models that can: see genfill providers)"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("- make a picture from a prompt"), entries);
  add_common(ctx.get(), c);
  const bool ok = parse_options(ctx.get(), argc, argv);
  GCharPtr size_holder(size), aspect_holder(aspect);
  std::unique_ptr<gchar *, void (*)(gchar **)> refs_holder(refs, [](gchar **v) { g_strfreev(v); });
  if (!ok) return kExitUsage;
  if (argc != 1 || (!c.output && !c.estimate) || !c.prompt) {
    std::fprintf(stderr, "%s\n", _("genfill generate: give --prompt and -o OUTPUT.png (see genfill generate --help)"));
    return kExitUsage;
  }
  if (size && aspect) {
    std::fprintf(stderr, "%s\n", _("genfill generate: give --size or --aspect, not both"));
    return kExitUsage;
  }
  setup_logging(c);
  try {
    int w = 0, h = 0;
    if (size) {
      char tail = 0;
      if (std::sscanf(size, "%dx%d%c", &w, &h, &tail) != 2 || w < 1 || h < 1 || w > 16384 || h > 16384)
        throw Error(ErrorCode::InvalidInput, _("Give --size as WIDTHxHEIGHT, for example 1536x1024."));
    }
    std::vector<std::string> inputs;
    for (gchar **r = refs; r && *r; ++r) inputs.push_back(*r);
    std::vector<std::string> names = c.estimate ? std::vector<std::string>{} : output_names(c.output, c.n);
    if (!c.estimate) check_outputs(names, inputs, c.force);
    Cancel cancel;  // from here on Ctrl-C stops whatever is under way, and nothing is written
    JobSettings s = settings_from(c);
    s.transparent = transparent;
    const PreparedJob job = prepare(s, Task::Generate, !c.estimate);
    std::vector<Image> references;
    for (gchar **r = refs; r && *r; ++r) references.push_back(load_image_file(*r));
    cancel.check();
    if (c.estimate) {
      std::vector<std::pair<int, int>> sizes;
      for (const Image &r : references) sizes.emplace_back(r.width, r.height);
      return print_estimate(c, job, estimate_generate(job, aspect ? aspect : "", w, h, sizes));
    }
    Previews previews(c.previews, c.force);
    JobResult result;
    {
      Reporter reporter(c.quiet);
      result = run_generate(job, aspect ? aspect : "", w, h, references, cancel.c, [&](const Progress &p) {
        reporter.stage(p);
        previews.take(p);
      });
    }
    cancel.check();
    if (result.images.size() < names.size()) names.resize(result.images.size());
    write_all(result.images, names, cancel, c.force);
    previews.keep();
    if (!result.text.empty() && !c.json)
      std::fprintf(stderr, "%s\n", format(_("The model said: %s"), printable(result.text).c_str()).c_str());
    if (c.json) print_success_json("generate", result, names, std::nullopt);
    else if (!c.quiet) for (const std::string &n : names) std::fprintf(stderr, _("Wrote %s\n"), n.c_str());
    say_cost(c, result);
    return kExitOk;
  } catch (const UsageError &e) {
    report_error(e, c.json);
    return kExitUsage;
  } catch (const Error &e) {
    return report_error(e, c.json);
  }
}

}  // namespace genfill::cli
