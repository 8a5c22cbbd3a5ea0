// genfill plug-in — the procedures' run functions: each gathers settings and pixels, hands them
// to core/edit, shows progress and places the answer as new layers (or a new image).
#pragma once

#include <libgimp/gimp.h>

namespace genfill::plugin {

// plug-in-genfill-edit: the selection (or the layer) changed as the prompt says, in a new layer.
GimpValueArray *run_edit_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                              GimpDrawable **drawables, GimpProcedureConfig *config, gpointer);
// plug-in-genfill-generate: a new layer from a prompt, the size of the selection's box or the image.
// Edit Many with Prompt: the same edit over every open image or every layer of a group.
GimpValueArray *run_edit_many_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                   GimpDrawable **drawables, GimpProcedureConfig *config, gpointer);
GimpValueArray *run_generate_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                  GimpDrawable **drawables, GimpProcedureConfig *config, gpointer);
// plug-in-genfill-expand: the canvas grown by margins, the new border painted in a new layer.
GimpValueArray *run_expand_proc(GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
                                GimpDrawable **drawables, GimpProcedureConfig *config, gpointer);
// plug-in-genfill-new-image: a new image from a prompt.
GimpValueArray *run_new_image_proc(GimpProcedure *procedure, GimpProcedureConfig *config, gpointer);
// plug-in-genfill-spending: what genfill has spent (the ledger), and the monthly budget.
GimpValueArray *run_spending_proc(GimpProcedure *procedure, GimpProcedureConfig *config, gpointer);

}  // namespace genfill::plugin
