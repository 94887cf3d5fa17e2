#pragma once
// export_onnx: writes a float32 model (Sequential or functional) as an ONNX
// ModelProto (opset 17) that computes what predict() computes.
//
//   export_onnx(model, "m.onnx");
//
// The graph takes what predict takes: a float32 input in Keras's layout
// ([N, H, W, C] for channels_last, the batch axis dynamic) and gives the
// model's output in Keras's layout. ONNX convolutions and pools are NCHW, so a
// channels_last model transposes its input once and keeps NCHW values inside;
// Keras-order weights are transposed at export (Conv kernels [kh, kw, in/groups,
// filters] -> [filters, in/groups, kh, kw]). Keras's "same" padding becomes
// explicit pads, the extra one at the end (TensorFlow's split); layers that are
// the identity at inference (Dropout, RandomFlip, RandomTranslation) emit no
// node. A layer or argument with no export is a ValueError naming the layer and
// its class. The file is written atomically.
//
// Present when the library was built with ONNX (Debian's libonnx-dev and
// libprotobuf-dev, scripts/install-deps.sh --interop): SEPCONV_HAVE_ONNX.
#include <string>

#include "sepconv/model/model_base.h"

namespace sepconv {

inline constexpr int kOnnxOpset = 17;

void export_onnx(ModelBase<float>& model, const std::string& path);

}  // namespace sepconv
