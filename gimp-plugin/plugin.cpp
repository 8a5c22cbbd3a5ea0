// genfill — the GIMP 3 plug-in: its procedures, their arguments and menus. What they do when run
// is in procedures.cpp, their windows in dialog.cpp, pixels in and out of GIMP in pixels.cpp.
// It knows nothing of provider formats: the core does the edit.
#include <string>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "core/edit/services.hpp"
#include "core/image/image.hpp"
#include "core/util/gobj.hpp"
#include "core/util/i18n.hpp"
#include "gimp-plugin/common.hpp"
#include "gimp-plugin/procedures.hpp"

using namespace genfill;
using namespace genfill::plugin;

namespace {

void add_references_argument(GimpProcedure *p) {
  gimp_procedure_add_core_object_array_argument(
      p, "references", _("_References"),
      _("Other layers, from this or another open image, sent as extra pictures to guide the model"),
      // Not set is fine (GIMP 3.0 would refuse an unset array, and its validation of the empty
      // array a caller leaves would log a critical: lax validation keeps it quiet and still makes
      // it "none"); references are for one run, not remembered with the last values (they may
      // belong to images long closed).
      GIMP_TYPE_DRAWABLE,
      GParamFlags(G_PARAM_READWRITE | G_PARAM_LAX_VALIDATION | GIMP_PARAM_NO_VALIDATE | GIMP_PARAM_DONT_SERIALIZE));
}

GimpChoice *provider_choice() {
  GimpChoice *choice = gimp_choice_new();
  int id = 0;
  for (const ServiceInfo &s : services())
    gimp_choice_add(choice, s.name.c_str(), id++, s.display_name.c_str(), nullptr);
  return choice;
}

void add_common_arguments(GimpProcedure *p, bool variations) {
  gimp_procedure_add_string_argument(p, "prompt", _("Prompt"), _("What to do, in plain words"), "",
                                     G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument(p, "provider", _("Ser_vice"), _("The image model service"), provider_choice(),
                                     default_service().name.c_str(), G_PARAM_READWRITE);
  gimp_procedure_add_string_argument(p, "model", _("_Model"), _("Model id; empty = the service's default"), "",
                                     G_PARAM_READWRITE);
  gimp_procedure_add_string_argument(p, "endpoint", _("End_point"),
                                     _("Base URL of a compatible service or relay; empty = the service itself"), "",
                                     G_PARAM_READWRITE);
  if (variations)
    gimp_procedure_add_int_argument(p, "variations", _("Variatio_ns"), _("How many versions to make (1-4)"), 1, 4,
                                    1, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument(p, "seed", _("See_d"), _("Seed for models that take one; -1 = none"), -1,
                                  G_MAXINT, -1, G_PARAM_READWRITE);
}

// What the answer is made at, where the model offers a choice (added after the first release:
// last, so that scripts passing arguments by position still work). Both drive the cost.
void add_cost_arguments(GimpProcedure *p) {
  gimp_procedure_add_choice_argument(
      p, "quality", _("_Quality"), _("How carefully the model paints, for models that take a quality (GPT Image)"),
      gimp_choice_new_with_values("default", 0, _("The service's default"), nullptr, "low", 1, _("Low"), nullptr,
                                  "medium", 2, _("Medium"), nullptr, "high", 3, _("High"), nullptr, "xhigh", 4,
                                  _("Extra high (GPT Image 2.5 and later)"), nullptr, "max", 5,
                                  _("Maximum (GPT Image 2.5 and later)"), nullptr, nullptr),
      "default", G_PARAM_READWRITE);
  gimp_procedure_add_choice_argument(
      p, "image-size", _("Image si_ze"), _("The answer's size, for models that offer several (Gemini)"),
      gimp_choice_new_with_values("auto", 0, _("The smallest that covers the area"), nullptr, "512", 1, "512",
                                  nullptr, "1K", 2, "1K", nullptr, "2K", 3, "2K", nullptr, "4K", 4, "4K", nullptr,
                                  nullptr),
      "auto", G_PARAM_READWRITE);
}

// What Edit with Prompt (and Edit Many) take.
void add_edit_arguments(GimpProcedure *p) {
  add_common_arguments(p, true);
  gimp_procedure_add_boolean_argument(p, "sample-merged", _("Sample mer_ged"),
                                      _("Send what you see (all visible layers); off: this layer's own pixels"),
                                      TRUE, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument(p, "context", _("Con_text (%)"),
                                  _("Picture sent around the selection, in percent of its size"), 0, 200, 25,
                                  G_PARAM_READWRITE);
  gimp_procedure_add_double_argument(p, "feather", _("Feather (p_x)"),
                                     _("Softens the new layer's mask inside the selection's edge"), 0, 200, 8,
                                     G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument(
      p, "continue-conversation", _("Continue the la_yer's conversation"),
      _("On a layer genfill made, the model sees the earlier steps, so \"now make it yellow\" is understood"),
      TRUE, G_PARAM_READWRITE);
  add_references_argument(p);
  // Fitting the answer in place; keep these last, as one block.
  gimp_procedure_add_boolean_argument(p, "register", _("_Align the answer"),
                                      _("Undo the shift and scale the model adds to the picture"), TRUE,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument(p, "match-colours", _("Match colo_urs"),
                                      _("Undo the model's change of brightness and colour"), TRUE,
                                      G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument(p, "blend-seam", _("_Blend the seam"),
                                      _("Blend the answer into its surroundings across the selection's edge"),
                                      TRUE, G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument(p, "raw", _("Ra_w answer"),
                                      _("Use the model's pixels untouched (overrides the three above)"), FALSE,
                                      G_PARAM_READWRITE);
  add_cost_arguments(p);
}

// GIMP translates its own menu names; "Generative" is ours.
std::string menu_path(const char *parent) { return std::string(parent) + "/" + _("Generative"); }

void set_common(GimpProcedure *p, const char *label, const char *blurb, const char *help) {
  gimp_procedure_set_menu_label(p, label);
  gimp_procedure_set_documentation(p, blurb, help, gimp_procedure_get_name(p));
  gimp_procedure_set_attribution(p, "genfill", "genfill " GENFILL_VERSION, "2026");
}

GList *query_procedures(GimpPlugIn *) {
  GList *list = nullptr;
  list = g_list_append(list, g_strdup(kEdit));
  list = g_list_append(list, g_strdup(kEditMany));
  list = g_list_append(list, g_strdup(kGenerate));
  list = g_list_append(list, g_strdup(kNewImage));
  list = g_list_append(list, g_strdup(kExpand));
  list = g_list_append(list, g_strdup(kSpending));
  return list;
}

GimpProcedure *create_procedure(GimpPlugIn *plug_in, const gchar *name) {
  GimpProcedure *p = nullptr;
  if (g_strcmp0(name, kEdit) == 0) {
    p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_edit_proc, nullptr, nullptr);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*");
    gimp_procedure_set_sensitivity_mask(p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
    set_common(p, _("_Edit with Prompt…"), _("Change the selection (or the layer) as a prompt says"),
               _("Sends the selection with some context around it to an image model, and puts the answer "
                 "in a new layer above, masked to the selection. The layer itself is not changed."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    gimp_procedure_add_menu_path(p, menu_path("<Layers>").c_str());
    add_edit_arguments(p);
    gimp_procedure_add_core_object_array_return_value(p, "layers", _("Layers"), _("The new layers"),
                                                      GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kEditMany) == 0) {
    p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_edit_many_proc, nullptr, nullptr);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*");
    gimp_procedure_set_sensitivity_mask(p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE | GIMP_PROCEDURE_SENSITIVE_DRAWABLES |
                                               GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES);
    set_common(p, _("Edit _Many with Prompt…"), _("The same change, as a prompt says, in every open image or every layer of a group"),
               _("Runs Edit with Prompt once for each open image (its selected layer, else its top layer, with its "
                 "own selection) or for each layer of the selected layer group, one after another. A target "
                 "that fails is named and the others still run. No layer is changed: each answer lands in new "
                 "layers above its own."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    gimp_procedure_add_menu_path(p, menu_path("<Layers>").c_str());
    gimp_procedure_add_boolean_argument(
        p, "group", _("Wor_k on the layers of the selected group"),
        _("On: every layer of the selected layer group; off: every open image (its selected layer, else its "
          "top layer)"),
        FALSE, G_PARAM_READWRITE);
    add_edit_arguments(p);
    gimp_procedure_add_core_object_array_return_value(p, "layers", _("Layers"), _("The new layers"),
                                                      GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kGenerate) == 0) {
    p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_generate_proc, nullptr, nullptr);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*");
    gimp_procedure_set_sensitivity_mask(p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE | GIMP_PROCEDURE_SENSITIVE_DRAWABLES |
                                               GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES);
    set_common(p, _("_Generate Layer…"), _("Make a new layer from a prompt"),
               _("Asks an image model for a picture and puts it in a new layer the size of the selection's box "
                 "(or of the image)."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    add_common_arguments(p, true);
    add_references_argument(p);
    // Added after the first release: keep it last so that scripts passing arguments by
    // position still work.
    gimp_procedure_add_boolean_argument(
        p, "transparent", _("_Transparent background"),
        _("Ask for a picture on a transparent background (models that can: GPT Image)"), FALSE, G_PARAM_READWRITE);
    add_cost_arguments(p);
    gimp_procedure_add_core_object_array_return_value(p, "layers", _("Layers"), _("The new layers"),
                                                      GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kExpand) == 0) {
    p = gimp_image_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_expand_proc, nullptr, nullptr);
    gimp_procedure_set_image_types(p, "RGB*, GRAY*");
    gimp_procedure_set_sensitivity_mask(p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
    set_common(p, _("E_xpand Canvas…"), _("Grow the canvas and let a model paint the new border"),
               _("Adds margins around the image and asks an image model to continue the picture into them. The "
                 "answer goes in a new layer above, masked to the new area; the layers keep their pixels and "
                 "move with the canvas. Nothing changes until the answer is in."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    gimp_procedure_add_menu_path(p, "<Image>/Image");
    add_common_arguments(p, true);
    gimp_procedure_add_boolean_argument(p, "sample-merged", _("Sample mer_ged"),
                                        _("Send what you see (all visible layers); off: this layer's own pixels"),
                                        TRUE, G_PARAM_READWRITE);
    gimp_procedure_add_double_argument(p, "feather", _("Feather (p_x)"),
                                       _("How far the new layer fades into the old picture"), 0, 200, 8,
                                       G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "left", _("Le_ft"), _("Pixels to add on the left"), 0, 65536, 0,
                                    G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "right", _("R_ight"), _("Pixels to add on the right"), 0, 65536, 0,
                                    G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "top", _("_Top"), _("Pixels to add at the top"), 0, 65536, 0,
                                    G_PARAM_READWRITE);
    gimp_procedure_add_int_argument(p, "bottom", _("_Bottom"), _("Pixels to add at the bottom"), 0, 65536, 0,
                                    G_PARAM_READWRITE);
    gimp_procedure_add_choice_argument(
        p, "aspect", _("_Aspect ratio"), _("Grow to this shape, centred: sets the margins"),
        gimp_choice_new_with_values("none", 0, _("Margins as given"), nullptr, "16:9", 1, _("Wide (16:9)"), nullptr,
                                    "4:3", 2, _("Landscape (4:3)"), nullptr, "3:2", 3, _("Landscape (3:2)"), nullptr,
                                    "1:1", 4, _("Square (1:1)"), nullptr, "2:3", 5, _("Portrait (2:3)"), nullptr,
                                    "3:4", 6, _("Portrait (3:4)"), nullptr, "9:16", 7, _("Tall (9:16)"), nullptr,
                                    nullptr),
        "none", G_PARAM_READWRITE);
    add_cost_arguments(p);
    gimp_procedure_add_core_object_array_return_value(p, "layers", _("Layers"), _("The new layers"),
                                                      GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kNewImage) == 0) {
    p = gimp_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_new_image_proc, nullptr, nullptr);
    set_common(p, _("Image from _Prompt…"), _("Make a new image from a prompt"),
               _("Asks an image model for a picture and opens it as a new image."));
    gimp_procedure_add_menu_path(p, "<Image>/File/Create");
    gimp_procedure_add_enum_argument(p, "run-mode", _("Run mode"), _("The run mode"), GIMP_TYPE_RUN_MODE,
                                     GIMP_RUN_INTERACTIVE, G_PARAM_READWRITE);
    add_common_arguments(p, false);
    gimp_procedure_add_choice_argument(
        p, "aspect", _("_Aspect ratio"), _("Shape of the picture"),
        gimp_choice_new_with_values("1:1", 0, _("Square (1:1)"), nullptr, "3:2", 1, _("Landscape (3:2)"), nullptr,
                                    "2:3", 2, _("Portrait (2:3)"), nullptr, "4:3", 3, _("Landscape (4:3)"), nullptr,
                                    "3:4", 4, _("Portrait (3:4)"), nullptr, "16:9", 5, _("Wide (16:9)"), nullptr,
                                    "9:16", 6, _("Tall (9:16)"), nullptr, nullptr),
        "1:1", G_PARAM_READWRITE);
    add_cost_arguments(p);
    gimp_procedure_add_image_return_value(p, "image", _("Image"), _("The new image"), FALSE, G_PARAM_READWRITE);
  } else if (g_strcmp0(name, kSpending) == 0) {
    p = gimp_procedure_new(plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, run_spending_proc, nullptr, nullptr);
    set_common(p, _("_Spending and Budget…"), _("What genfill has spent, and a monthly budget"),
               _("Shows what the calls billed by the services cost, this month and in all, from GIMP and the genfill "
                 "command alike, and sets the monthly budget over which runs are refused before they are sent."));
    gimp_procedure_add_menu_path(p, menu_path("<Image>/Filters").c_str());
    gimp_procedure_add_enum_argument(p, "run-mode", _("Run mode"), _("The run mode"), GIMP_TYPE_RUN_MODE,
                                     GIMP_RUN_INTERACTIVE, G_PARAM_READWRITE);
    gimp_procedure_add_choice_argument(
        p, "budget-action", _("Budget"), _("What to do with the monthly budget"),
        gimp_choice_new_with_values("keep", 0, _("Keep it as it is"), nullptr, "set", 1, _("Set it to the amount"),
                                    nullptr, "remove", 2, _("Remove it"), nullptr, nullptr),
        "keep", G_PARAM_READWRITE);
    gimp_procedure_add_double_argument(p, "monthly-budget", _("Monthly budget"), _("In US dollars"), 0, 1e6, 20,
                                       G_PARAM_READWRITE);
    gimp_procedure_add_double_return_value(p, "this-month-usd", _("This month"),
                                           _("What this calendar month's calls cost (UTC), in US dollars"), 0,
                                           G_MAXDOUBLE, 0, G_PARAM_READWRITE);
    gimp_procedure_add_double_return_value(p, "total-usd", _("In all"), _("What all recorded calls cost, in US dollars"),
                                           0, G_MAXDOUBLE, 0, G_PARAM_READWRITE);
    gimp_procedure_add_int_return_value(p, "calls", _("Calls"), _("Calls recorded"), 0, G_MAXINT, 0,
                                        G_PARAM_READWRITE);
    gimp_procedure_add_double_return_value(p, "budget-usd", _("Budget"),
                                           _("The monthly budget in US dollars; -1 when there is none"), -1, G_MAXDOUBLE,
                                           -1, G_PARAM_READWRITE);
  }
  return p;
}

// Catalogues in the plug-in's own folder (<folder>/locale, how a user install carries them)
// win; otherwise $GENFILL_LOCALEDIR or the system locale folder.
gboolean set_i18n(GimpPlugIn *, const gchar *, gchar **gettext_domain, gchar **catalog_dir) {
  if (!g_getenv("GENFILL_LOCALEDIR")) {
    GCharPtr exe(g_file_read_link("/proc/self/exe", nullptr));
    GCharPtr folder(exe ? g_path_get_dirname(exe.get()) : nullptr);
    GCharPtr own(folder ? g_build_filename(folder.get(), "locale", nullptr) : nullptr);
    if (own && g_file_test(own.get(), G_FILE_TEST_IS_DIR)) {
      *gettext_domain = g_strdup(GETTEXT_PACKAGE);
      *catalog_dir = g_strdup("locale");  // GIMP binds it, relative to the plug-in's folder
      return TRUE;
    }
  }
  init_i18n();
  return FALSE;  // bound here: GIMP only accepts folders inside the plug-in's own
}

}  // namespace


G_BEGIN_DECLS
#define GENFILL_TYPE_PLUGIN (genfill_plugin_get_type())
G_DECLARE_FINAL_TYPE(GenfillPlugin, genfill_plugin, GENFILL, PLUGIN, GimpPlugIn)
G_END_DECLS

struct _GenfillPlugin {
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE(GenfillPlugin, genfill_plugin, GIMP_TYPE_PLUG_IN)

static void genfill_plugin_class_init(GenfillPluginClass *klass) {
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS(klass);
  plug_in_class->query_procedures = query_procedures;
  plug_in_class->create_procedure = create_procedure;
  plug_in_class->set_i18n = set_i18n;
}

static void genfill_plugin_init(GenfillPlugin *) { keep_pictures_off_the_heap(); }

GIMP_MAIN(GENFILL_TYPE_PLUGIN)
