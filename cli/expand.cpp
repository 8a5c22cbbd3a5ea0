// genfill — command line: genfill expand, the canvas grown and its new border painted.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "core/edit/expand.hpp"
#include "core/image/image.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"
#include "core/util/text.hpp"

namespace genfill::cli {

int cmd_expand(int argc, char **argv) {
  Common c;
  gint left = 0, right = 0, top = 0, bottom = 0;
  gchar *to_aspect = nullptr;
  gchar **refs = nullptr;
  gdouble context = 25, feather_px = 8;
  gboolean raw = FALSE;
  GOptionEntry entries[] = {
      {"left", 0, 0, G_OPTION_ARG_INT, &left, N_("Pixels to add on the left"), "PX"},
      {"right", 0, 0, G_OPTION_ARG_INT, &right, N_("Pixels to add on the right"), "PX"},
      {"top", 0, 0, G_OPTION_ARG_INT, &top, N_("Pixels to add at the top"), "PX"},
      {"bottom", 0, 0, G_OPTION_ARG_INT, &bottom, N_("Pixels to add at the bottom"), "PX"},
      {"to-aspect", 0, 0, G_OPTION_ARG_STRING, &to_aspect,
       N_("Grow to this aspect ratio, centred, instead of margins (e.g. 16:9)"), "W:H"},
      {"reference", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &refs, N_("Extra picture to guide the model (repeatable)"),
       "REF.png"},
      {"context", 0, 0, G_OPTION_ARG_DOUBLE, &context,
       N_("Picture sent beside the new area, percent of its size (default 25)"), "PCT"},
      {"feather", 0, 0, G_OPTION_ARG_DOUBLE, &feather_px,
       N_("How far the new border fades into the picture, in pixels (default 8)"), "PX"},
      {"raw", 0, 0, G_OPTION_ARG_NONE, &raw,
       N_("Composite the model's pixels untouched (no registration, colour match or blend)"), nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr}};
  GOptionContextPtr ctx = option_context(_("INPUT - grow the canvas and let the model paint the new border"), entries);
  add_common(ctx.get(), c);
  const bool ok = parse_options(ctx.get(), argc, argv);
  GCharPtr aspect_holder(to_aspect);
  std::unique_ptr<gchar *, void (*)(gchar **)> refs_holder(refs, [](gchar **v) { g_strfreev(v); });
  if (!ok) return kExitUsage;
  if (argc != 2 || (!c.output && !c.estimate)) {
    std::fprintf(stderr, "%s\n",
                 _("genfill expand: give one INPUT, margins or --to-aspect, and -o OUTPUT.png (see genfill expand "
                   "--help)"));
    return kExitUsage;
  }
  setup_logging(c);
  try {
    if (to_aspect && (left || right || top || bottom))
      throw UsageError(_("Give either margins or --to-aspect, not both."));
    if (context < 0 || context > 400) throw Error(ErrorCode::InvalidInput, _("--context must be 0-400 percent."));
    if (feather_px < 0 || feather_px > 500) throw Error(ErrorCode::InvalidInput, _("--feather must be 0-500 px."));
    std::vector<std::string> inputs = {argv[1]};
    for (gchar **r = refs; r && *r; ++r) inputs.push_back(*r);
    std::vector<std::string> names = c.estimate ? std::vector<std::string>{} : output_names(c.output, c.n);
    if (!c.estimate) check_outputs(names, inputs, c.force);
    Cancel cancel;  // from here on Ctrl-C stops whatever is under way, and nothing is written
    JobSettings s = settings_from(c);
    if (!c.prompt) s.prompt.clear();  // the scene simply continues
    s.seam = raw ? seam::Options::raw() : seam::Options{};
    const PreparedJob job = prepare(s, Task::Edit, !c.estimate);

    Image input = load_image_file(argv[1]);
    ExpandInput expand;
    expand.margins = to_aspect ? margins_for_aspect(input.width, input.height, to_aspect)
                               : Margins{left, right, top, bottom};
    expand.context = context / 100.0;
    expand.feather_px = feather_px;
    for (gchar **r = refs; r && *r; ++r) expand.references.push_back(load_image_file(*r));
    cancel.check();
    if (c.estimate) return print_estimate(c, job, estimate_expand(job, expand, input.width, input.height));

    const std::optional<Mask> no_selection;  // the source keeps a reference
    PictureSource source(input, no_selection);
    Previews previews(c.previews, c.force);  // the region alone: the canvas grows only at the end
    ExpandResult result;
    {
      Reporter reporter(c.quiet);
      result = run_expand(job, expand, source, cancel.c, [&](const Progress &p) {
        reporter.stage(p);
        previews.take(p);
      });
    }
    cancel.check();
    std::vector<Image> outputs;
    for (size_t i = 0; i < result.images.size(); ++i) outputs.push_back(composite_expand(input, result, i));
    if (outputs.size() < names.size()) names.resize(outputs.size());
    write_all(outputs, names, cancel, c.force);
    previews.keep();
    if (!result.text.empty() && !c.json)
      std::fprintf(stderr, "%s\n", format(_("The model said: %s"), printable(result.text).c_str()).c_str());
    if (c.json)
      print_success_json("expand", result, names, result.plan.region, result.conversation, [&](JsonBuilder *b) {
        json_builder_set_member_name(b, "margins");
        json_builder_begin_object(b);
        json_member(b, "left", expand.margins.left);
        json_member(b, "right", expand.margins.right);
        json_member(b, "top", expand.margins.top);
        json_member(b, "bottom", expand.margins.bottom);
        json_builder_end_object(b);
        json_builder_set_member_name(b, "canvas");
        json_builder_begin_object(b);
        json_member(b, "width", result.canvas_w);
        json_member(b, "height", result.canvas_h);
        json_builder_end_object(b);
      });
    else if (!c.quiet)
      for (const std::string &n : names) std::fprintf(stderr, _("Wrote %s\n"), n.c_str());
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
