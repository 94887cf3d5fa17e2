#include "sepconv/onnx/export.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sepconv/core/error.h"
#include "sepconv/io/atomic_file.h"
#include "sepconv/layers/activations.h"
#include "sepconv/model/functional.h"
#include "sepconv/model/sequential.h"

namespace sepconv {
namespace {

using nlohmann::json;
using Ints = std::vector<int64_t>;

// A Keras tensor of the graph under construction. ONNX's spatial operators
// want NCHW, Keras's channels_last layers see NHWC: a rank-4 value may exist
// under two names, `keras` (the tensor in Keras's layout) and `nchw` (the
// same tensor transposed by (0, 3, 1, 2), what a channels_last layer hands to
// ONNX). Either may be empty; the other is made on demand, once.
struct Value {
  Shape shape;  // Keras's, the batch axis included
  std::string keras;
  std::string nchw;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* graph) : graph_(graph) {}

  std::string fresh(const std::string& base) { return fmt::format("{}_{}", base, counter_++); }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(output);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(output);
    return n;
  }
  // A node with a fresh output named after `base`; returns the output.
  std::string op(const std::string& op, const std::vector<std::string>& inputs, const std::string& base,
                 const std::function<void(onnx::NodeProto*)>& attributes = {}) {
    std::string out = fresh(base + "_" + op);
    onnx::NodeProto* n = node(op, inputs, out);
    if (attributes) attributes(n);
    return out;
  }

  std::string floats(const std::string& base, const Shape& shape, const std::vector<float>& data) {
    std::string name = fresh(base);
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
    return name;
  }
  std::string scalar(const std::string& base, float v) { return floats(base, {}, {v}); }
  std::string int64s(const std::string& base, const Ints& data) {
    std::string name = fresh(base);
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(data.size()));
    for (int64_t v : data) t->add_int64_data(v);
    return name;
  }

  // The tensor in Keras's layout.
  std::string keras(Value& v) {
    if (v.keras.empty()) v.keras = transpose(v.nchw, {0, 2, 3, 1});
    return v.keras;
  }
  // The NCHW tensor a layer of this data format hands to ONNX.
  std::string spatial(Value& v, bool channels_first) {
    if (channels_first) return keras(v);
    if (v.nchw.empty()) v.nchw = transpose(v.keras, {0, 3, 1, 2});
    return v.nchw;
  }
  // Whichever name exists, for element-wise operators; `nchw` says which.
  std::string any(const Value& v, bool* nchw) const {
    *nchw = v.keras.empty();
    return *nchw ? v.nchw : v.keras;
  }
  std::string transpose(const std::string& x, const Ints& perm) {
    return op("Transpose", {x}, x, [&](onnx::NodeProto* n) { set_ints(n, "perm", perm); });
  }

  static void set_ints(onnx::NodeProto* n, const std::string& name, const Ints& values) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }
  static void set_int(onnx::NodeProto* n, const std::string& name, int64_t value) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void set_float(onnx::NodeProto* n, const std::string& name, float value) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }

 private:
  onnx::GraphProto* graph_;
  int64_t counter_ = 0;
};

[[noreturn]] void unsupported(const Layer<float>& layer, const std::string& why) {
  throw ValueError(fmt::format("export_onnx: layer '{}' (class {}) cannot be exported to ONNX: {}", layer.name(),
                               layer.class_name(), why));
}

Ints pair_of(const json& j) {
  if (j.is_number_integer()) return {j.get<int64_t>(), j.get<int64_t>()};
  return {j.at(0).get<int64_t>(), j.at(1).get<int64_t>()};
}

bool is_channels_first(const json& config) {
  return config.contains("data_format") && config.at("data_format") == "channels_first";
}

// Keras's "same": output ceil(in / stride), the total pad split with the extra
// one at the end (TensorFlow's rule); "valid": none. ONNX's order:
// [h_begin, w_begin, h_end, w_end].
Ints explicit_pads(const std::string& padding, const Ints& in_hw, const Ints& kernel, const Ints& strides,
                   const Ints& dilations) {
  if (padding == "valid") return {0, 0, 0, 0};
  Ints pads(4);
  for (int a = 0; a < 2; ++a) {
    int64_t out = (in_hw[a] + strides[a] - 1) / strides[a];
    int64_t effective = (kernel[a] - 1) * dilations[a] + 1;
    int64_t total = std::max<int64_t>((out - 1) * strides[a] + effective - in_hw[a], 0);
    pads[a] = total / 2;
    pads[a + 2] = total - total / 2;
  }
  return pads;
}

Ints spatial_hw(const Shape& keras_shape, bool channels_first) {
  return channels_first ? Ints{keras_shape[2], keras_shape[3]} : Ints{keras_shape[1], keras_shape[2]};
}

const Tensor<float>& weight_of(const Layer<float>& layer, const std::string& name) {
  return layer.weight(name).variable.value();
}

// A Keras kernel [kh, kw, in, out] (row-major, so any [kh, kw, ...] whose last
// axes hold in * out values) -> ONNX [out, in, kh, kw].
std::vector<float> onnx_kernel(const Tensor<float>& k, int64_t in, int64_t out) {
  const int64_t kh = k.shape()[0], kw = k.shape()[1];
  std::vector<float> w(static_cast<size_t>(k.size()));
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j)
      for (int64_t c = 0; c < in; ++c)
        for (int64_t f = 0; f < out; ++f)
          w[static_cast<size_t>(((f * in + c) * kh + i) * kw + j)] = k.data()[((i * kw + j) * in + c) * out + f];
  return w;
}

// Keras conv kernel [kh, kw, in, out] -> ONNX [out, in, kh, kw].
std::vector<float> conv_kernel(const Tensor<float>& k) { return onnx_kernel(k, k.shape()[2], k.shape()[3]); }

// Keras depthwise kernel [kh, kw, C, dm] -> ONNX grouped Conv [C * dm, 1, kh, kw]:
// output channel c * dm + m reads input channel c, as Keras orders them, which
// is the kernel read as [kh, kw, 1, C * dm].
std::vector<float> depthwise_kernel(const Tensor<float>& k) { return onnx_kernel(k, 1, k.shape()[2] * k.shape()[3]); }

std::vector<float> values(const Tensor<float>& t) { return std::vector<float>(t.begin(), t.end()); }

class Exporter {
 public:
  explicit Exporter(onnx::GraphProto* graph) : g_(graph) {}
  GraphBuilder& builder() { return g_; }

  // Emits one layer call; `inputs` are its input values, `out_shape` its
  // Keras output shape (batch axis included).
  Value layer(const Layer<float>& layer, std::vector<Value>& inputs, const Shape& out_shape) {
    const std::string cls = layer.class_name();
    const json config = layer.get_config();
    const std::string base = layer.name();
    auto single = [&]() -> Value& {
      if (inputs.size() != 1) unsupported(layer, fmt::format("expected one input, got {}", inputs.size()));
      return inputs[0];
    };
    if (cls == "InputLayer" || cls == "Dropout" || cls == "RandomFlip" || cls == "RandomTranslation")
      return single();  // the identity at inference
    if (cls == "Conv2D" || cls == "DepthwiseConv2D" || cls == "SeparableConv2D") return conv(layer, config, single(), out_shape);
    if (cls == "BatchNormalization") return batch_norm(layer, config, single(), out_shape);
    if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
      Value& x = single();
      const bool cf = is_channels_first(config);
      Ints kernel = pair_of(config.at("pool_size")), strides = pair_of(config.at("strides"));
      Ints pads = explicit_pads(config.at("padding"), spatial_hw(x.shape, cf), kernel, strides, {1, 1});
      const bool max = cls == "MaxPooling2D";
      std::string y = g_.op(max ? "MaxPool" : "AveragePool", {g_.spatial(x, cf)}, base, [&](onnx::NodeProto* n) {
        GraphBuilder::set_ints(n, "kernel_shape", kernel);
        GraphBuilder::set_ints(n, "strides", strides);
        GraphBuilder::set_ints(n, "pads", pads);
        // Keras averages over the window's pixels inside the image only.
        if (!max) GraphBuilder::set_int(n, "count_include_pad", 0);
      });
      return spatial_output(y, out_shape, cf);
    }
    if (cls == "GlobalAveragePooling2D" || cls == "GlobalMaxPooling2D") {
      Value& x = single();
      const bool cf = is_channels_first(config);
      std::string y = g_.op(cls == "GlobalMaxPooling2D" ? "GlobalMaxPool" : "GlobalAveragePool",
                            {g_.spatial(x, cf)}, base);  // [N, C, 1, 1]
      // keepdims: [N, 1, 1, C] in Keras's channels_last layout is this tensor's NCHW view.
      if (config.value("keepdims", false)) return spatial_output(y, out_shape, cf);
      y = g_.op("Flatten", {y}, base, [](onnx::NodeProto* n) { GraphBuilder::set_int(n, "axis", 1); });
      return Value{out_shape, y, ""};
    }
    if (cls == "Dense") {
      Value& x = single();
      const Tensor<float>& kernel = weight_of(layer, "kernel");
      std::string w = g_.floats(base + "_kernel", kernel.shape(), values(kernel));
      std::string y;
      const bool bias = config.value("use_bias", true);
      std::string b = bias ? g_.floats(base + "_bias", weight_of(layer, "bias").shape(), values(weight_of(layer, "bias")))
                           : std::string();
      if (x.shape.size() == 2) {
        std::vector<std::string> in = {g_.keras(x), w};
        if (bias) in.push_back(b);
        y = g_.op("Gemm", in, base);
      } else {
        y = g_.op("MatMul", {g_.keras(x), w}, base);
        if (bias) y = g_.op("Add", {y, b}, base);
      }
      Value v{out_shape, y, ""};
      return activation(layer, config.at("activation"), v);
    }
    if (cls == "Flatten") {
      Value& x = single();
      std::string k = g_.keras(x);
      // Keras's channels_first Flatten moves the channels last first.
      if (is_channels_first(config) && x.shape.size() > 2) {
        Ints perm = {0};
        for (int64_t a = 2; a < static_cast<int64_t>(x.shape.size()); ++a) perm.push_back(a);
        perm.push_back(1);
        k = g_.transpose(k, perm);
      }
      return Value{out_shape, g_.op("Flatten", {k}, base, [](onnx::NodeProto* n) { GraphBuilder::set_int(n, "axis", 1); }),
                   ""};
    }
    if (cls == "Reshape") {
      Value& x = single();
      Ints target = {0};  // 0: keep the batch axis
      for (const auto& d : config.at("target_shape")) target.push_back(d.get<int64_t>());
      return Value{out_shape, g_.op("Reshape", {g_.keras(x), g_.int64s(base + "_shape", target)}, base), ""};
    }
    if (cls == "ZeroPadding2D") {
      Value& x = single();
      const bool cf = is_channels_first(config);
      const json& p = config.at("padding");
      Ints pads = {0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]};
      std::string y = g_.op("Pad", {g_.spatial(x, cf), g_.int64s(base + "_pads", pads)}, base);
      return spatial_output(y, out_shape, cf);
    }
    if (cls == "Rescaling") {
      Value& x = single();
      if (!config.at("scale").is_number() || !config.at("offset").is_number())
        unsupported(layer, "only scalar scale and offset are exported");
      bool nchw = false;
      std::string in = g_.any(x, &nchw);
      std::string y = g_.op("Mul", {in, g_.scalar(base + "_scale", config.at("scale").get<float>())}, base);
      y = g_.op("Add", {y, g_.scalar(base + "_offset", config.at("offset").get<float>())}, base);
      return nchw ? Value{out_shape, "", y} : Value{out_shape, y, ""};
    }
    if (cls == "Activation") return activation(layer, config.at("activation"), single());
    if (cls == "ReLU") return relu_layer(layer, config, single());
    if (cls == "Add" || cls == "Subtract" || cls == "Multiply" || cls == "Average" || cls == "Maximum" ||
        cls == "Minimum" || cls == "Concatenate")
      return merge(layer, cls, config, inputs, out_shape);
    unsupported(layer, "no ONNX export for this class");
  }

 private:
  Value spatial_output(const std::string& y, const Shape& out_shape, bool channels_first) {
    return channels_first ? Value{out_shape, y, ""} : Value{out_shape, "", y};
  }

  Value conv(const Layer<float>& layer, const json& config, Value& x, const Shape& out_shape) {
    const std::string cls = layer.class_name(), base = layer.name();
    const bool cf = is_channels_first(config);
    Ints kernel = pair_of(config.at("kernel_size")), strides = pair_of(config.at("strides")),
         dilations = pair_of(config.at("dilation_rate"));
    Ints pads = explicit_pads(config.at("padding"), spatial_hw(x.shape, cf), kernel, strides, dilations);
    const int64_t channels = cf ? x.shape[1] : x.shape[3];
    const bool bias = config.value("use_bias", true);
    auto conv_node = [&](const std::string& in, const std::string& w, const std::string& b, int64_t group,
                         const Ints& k, const Ints& s, const Ints& d, const Ints& p) {
      std::vector<std::string> inputs = {in, w};
      if (!b.empty()) inputs.push_back(b);
      return g_.op("Conv", inputs, base, [&](onnx::NodeProto* n) {
        GraphBuilder::set_ints(n, "kernel_shape", k);
        GraphBuilder::set_ints(n, "strides", s);
        GraphBuilder::set_ints(n, "dilations", d);
        GraphBuilder::set_ints(n, "pads", p);
        GraphBuilder::set_int(n, "group", group);
      });
    };
    std::string b = bias ? g_.floats(base + "_bias", weight_of(layer, "bias").shape(), values(weight_of(layer, "bias")))
                         : std::string();
    std::string in = g_.spatial(x, cf), y;
    if (cls == "Conv2D") {
      const Tensor<float>& k = weight_of(layer, "kernel");
      const Shape& s = k.shape();
      std::string w = g_.floats(base + "_kernel", {s[3], s[2], s[0], s[1]}, conv_kernel(k));
      y = conv_node(in, w, b, config.value("groups", int64_t{1}), kernel, strides, dilations, pads);
    } else {
      // Keras 3 names DepthwiseConv2D's kernel "kernel", SeparableConv2D's "depthwise_kernel".
      const Tensor<float>& k = weight_of(layer, cls == "DepthwiseConv2D" ? "kernel" : "depthwise_kernel");
      const Shape& s = k.shape();
      std::string w = g_.floats(base + "_depthwise_kernel", {s[2] * s[3], 1, s[0], s[1]}, depthwise_kernel(k));
      if (cls == "DepthwiseConv2D") {
        y = conv_node(in, w, b, channels, kernel, strides, dilations, pads);
      } else {  // SeparableConv2D: the depthwise step, then a 1x1 convolution with the bias
        y = conv_node(in, w, "", channels, kernel, strides, dilations, pads);
        const Tensor<float>& pk = weight_of(layer, "pointwise_kernel");
        const Shape& ps = pk.shape();
        std::string pw = g_.floats(base + "_pointwise_kernel", {ps[3], ps[2], 1, 1}, conv_kernel(pk));
        y = conv_node(y, pw, b, 1, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0});
      }
    }
    Value v = spatial_output(y, out_shape, cf);
    return activation(layer, config.at("activation"), v);
  }

  Value batch_norm(const Layer<float>& layer, const json& config, Value& x, const Shape& out_shape) {
    const std::string base = layer.name();
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = config.at("axis").is_array() ? (config.at("axis").size() == 1 ? config.at("axis")[0].get<int64_t>() : -99)
                                                : config.at("axis").get<int64_t>();
    if (axis < 0) axis += rank;
    std::string in;
    bool nchw = false;
    if (rank == 4 && axis == 3) {
      in = g_.spatial(x, false);
      nchw = true;
    } else if (axis == 1) {
      in = g_.keras(x);
    } else if (rank == 2 && axis == 1) {
      in = g_.keras(x);
    } else {
      unsupported(layer, fmt::format("axis {} of a rank-{} input (ONNX normalizes axis 1)", config.at("axis").dump(), rank));
    }
    const Tensor<float>& mean = weight_of(layer, "moving_mean");
    const Tensor<float>& var = weight_of(layer, "moving_variance");
    const int64_t c = mean.size();
    std::vector<float> gamma(static_cast<size_t>(c), 1.0f), beta(static_cast<size_t>(c), 0.0f);
    if (config.value("scale", true)) gamma = values(weight_of(layer, "gamma"));
    if (config.value("center", true)) beta = values(weight_of(layer, "beta"));
    std::vector<std::string> inputs = {in, g_.floats(base + "_gamma", {c}, gamma), g_.floats(base + "_beta", {c}, beta),
                                       g_.floats(base + "_moving_mean", {c}, values(mean)),
                                       g_.floats(base + "_moving_variance", {c}, values(var))};
    const float epsilon = config.at("epsilon").get<float>();
    std::string y = g_.op("BatchNormalization", inputs, base,
                          [&](onnx::NodeProto* n) { GraphBuilder::set_float(n, "epsilon", epsilon); });
    return nchw ? Value{out_shape, "", y} : Value{out_shape, y, ""};
  }

  Value relu_layer(const Layer<float>& layer, const json& config, Value& x) {
    const double threshold = config.value("threshold", 0.0), slope = config.value("negative_slope", 0.0);
    if (threshold != 0.0) unsupported(layer, fmt::format("threshold {} (only 0 is exported)", threshold));
    bool nchw = false;
    std::string y = g_.any(x, &nchw);
    const std::string base = layer.name();
    const bool capped = !config.at("max_value").is_null();
    if (slope == 0.0 && capped) {  // relu6 and the like: one Clip
      std::string c = clip(y, 0.0f, config.at("max_value").get<float>(), base);
      return nchw ? Value{x.shape, "", c} : Value{x.shape, c, ""};
    }
    if (slope == 0.0) {
      y = g_.op("Relu", {y}, base);
    } else {
      y = g_.op("LeakyRelu", {y}, base, [&](onnx::NodeProto* n) { GraphBuilder::set_float(n, "alpha", static_cast<float>(slope)); });
    }
    if (capped)
      y = g_.op("Min", {y, g_.scalar(base + "_max_value", config.at("max_value").get<float>())}, base);
    return nchw ? Value{x.shape, "", y} : Value{x.shape, y, ""};
  }

  std::string clip(const std::string& x, float lo, float hi, const std::string& base) {
    return g_.op("Clip", {x, g_.scalar(base + "_min", lo), g_.scalar(base + "_max", hi)}, base);
  }

  // Keras's activation functions (layers/activations.h), as ONNX operators.
  Value activation(const Layer<float>& layer, const json& identifier, Value& x) {
    const std::string name = canonical_activation_name(identifier);
    if (name == "linear") return x;
    const std::string base = layer.name();
    bool nchw = false;
    std::string in;
    // Softmax runs over Keras's last axis.
    if (name == "softmax" || name == "log_softmax") {
      in = g_.keras(x);
    } else {
      in = g_.any(x, &nchw);
    }
    auto unary = [&](const std::string& op, const std::string& v) { return g_.op(op, {v}, base); };
    auto with_alpha = [&](const std::string& op, float alpha) {
      return g_.op(op, {in}, base, [&](onnx::NodeProto* n) { GraphBuilder::set_float(n, "alpha", alpha); });
    };
    auto mul = [&](const std::string& a, const std::string& b) { return g_.op("Mul", {a, b}, base); };
    std::string y;
    if (name == "relu") y = unary("Relu", in);
    else if (name == "relu6") y = clip(in, 0.0f, 6.0f, base);
    else if (name == "hard_tanh") y = clip(in, -1.0f, 1.0f, base);
    else if (name == "leaky_relu") y = with_alpha("LeakyRelu", 0.2f);  // Keras's default negative_slope
    else if (name == "elu") y = with_alpha("Elu", 1.0f);
    else if (name == "celu") y = with_alpha("Celu", 1.0f);
    else if (name == "selu") y = unary("Selu", in);  // ONNX's default alpha and gamma are Keras's constants
    else if (name == "sigmoid") y = unary("Sigmoid", in);
    else if (name == "tanh") y = unary("Tanh", in);
    else if (name == "softplus") y = unary("Softplus", in);
    else if (name == "softsign") y = unary("Softsign", in);
    else if (name == "exponential") y = unary("Exp", in);
    else if (name == "silu") y = mul(in, unary("Sigmoid", in));
    else if (name == "mish") y = mul(in, unary("Tanh", unary("Softplus", in)));
    else if (name == "tanh_shrink") y = g_.op("Sub", {in, unary("Tanh", in)}, base);
    else if (name == "hard_sigmoid") {  // Keras 3: relu6(x + 3) / 6
      y = g_.op("HardSigmoid", {in}, base, [](onnx::NodeProto* n) {
        GraphBuilder::set_float(n, "alpha", 1.0f / 6.0f);
        GraphBuilder::set_float(n, "beta", 0.5f);
      });
    } else if (name == "hard_silu") y = unary("HardSwish", in);  // x * relu6(x + 3) / 6
    else if (name == "gelu") {  // exact: x * (1 + erf(x / sqrt(2))) / 2
      std::string e = unary("Erf", mul(in, g_.scalar(base + "_rsqrt2", static_cast<float>(1.0 / std::sqrt(2.0)))));
      y = mul(mul(in, g_.op("Add", {e, g_.scalar(base + "_one", 1.0f)}, base)), g_.scalar(base + "_half", 0.5f));
    } else if (name == "log_sigmoid") {  // -softplus(-x)
      y = unary("Neg", unary("Softplus", unary("Neg", in)));
    } else if (name == "soft_shrink" || name == "hard_shrink") {  // threshold 0.5, Keras's default
      const float bias = name == "soft_shrink" ? 0.5f : 0.0f;
      y = g_.op("Shrink", {in}, base, [&](onnx::NodeProto* n) {
        GraphBuilder::set_float(n, "lambd", 0.5f);
        GraphBuilder::set_float(n, "bias", bias);
      });
    } else if (name == "squareplus") {  // (x + sqrt(x^2 + b)) / 2, b = 4
      std::string r = unary("Sqrt", g_.op("Add", {mul(in, in), g_.scalar(base + "_b", 4.0f)}, base));
      y = mul(g_.op("Add", {in, r}, base), g_.scalar(base + "_half", 0.5f));
    } else if (name == "sparse_plus") {  // 0 for x <= -1, x for x >= 1, (x + 1)^2 / 4 between
      std::string p = g_.op("Add", {in, g_.scalar(base + "_one", 1.0f)}, base);
      std::string middle = mul(mul(p, p), g_.scalar(base + "_quarter", 0.25f));
      std::string upper = g_.op("Where", {g_.op("GreaterOrEqual", {in, g_.scalar(base + "_one", 1.0f)}, base), in, middle}, base);
      y = g_.op("Where", {g_.op("LessOrEqual", {in, g_.scalar(base + "_minus_one", -1.0f)}, base),
                          g_.scalar(base + "_zero", 0.0f), upper}, base);
    } else if (name == "softmax" || name == "log_softmax") {
      y = g_.op(name == "softmax" ? "Softmax" : "LogSoftmax", {in}, base,
                [](onnx::NodeProto* n) { GraphBuilder::set_int(n, "axis", -1); });
    } else {
      unsupported(layer, fmt::format("activation \"{}\" has no ONNX export", name));
    }
    return nchw ? Value{x.shape, "", y} : Value{x.shape, y, ""};
  }

  Value merge(const Layer<float>& layer, const std::string& cls, const json& config, std::vector<Value>& inputs,
              const Shape& out_shape) {
    const std::string base = layer.name();
    // NCHW views when every input has one (they came from channels_last layers), Keras's layout otherwise.
    bool nchw = std::all_of(inputs.begin(), inputs.end(), [](const Value& v) { return v.keras.empty(); });
    for (const Value& v : inputs)
      if (v.shape.size() != inputs[0].shape.size()) nchw = false;
    std::vector<std::string> names;
    for (Value& v : inputs) names.push_back(nchw ? v.nchw : g_.keras(v));
    std::string y;
    if (cls == "Concatenate") {
      const int64_t rank = static_cast<int64_t>(inputs[0].shape.size());
      int64_t axis = config.at("axis").get<int64_t>();
      if (axis < 0) axis += rank;
      // Keras axis a of NHWC sits at position perm^-1(a) of the (0, 3, 1, 2) view.
      if (nchw) axis = std::vector<int64_t>{0, 2, 3, 1}[static_cast<size_t>(axis)];
      y = g_.op("Concat", names, base, [&](onnx::NodeProto* n) { GraphBuilder::set_int(n, "axis", axis); });
    } else if (cls == "Subtract") {
      if (names.size() != 2) unsupported(layer, "Subtract takes two inputs");
      y = g_.op("Sub", names, base);
    } else {
      const std::map<std::string, std::string> ops = {
          {"Add", "Sum"}, {"Multiply", "Mul"}, {"Average", "Mean"}, {"Maximum", "Max"}, {"Minimum", "Min"}};
      if (cls == "Multiply") {
        y = names[0];
        for (size_t i = 1; i < names.size(); ++i) y = g_.op("Mul", {y, names[i]}, base);
      } else {
        y = g_.op(ops.at(cls), names, base);
      }
    }
    return nchw ? Value{out_shape, "", y} : Value{out_shape, y, ""};
  }

  GraphBuilder g_;
};

void set_value_info(onnx::ValueInfoProto* info, const std::string& name, const Shape& shape) {
  info->set_name(name);
  onnx::TypeProto_Tensor* t = info->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  for (size_t a = 0; a < shape.size(); ++a) {
    if (a == 0) s->add_dim()->set_dim_param("N");
    else s->add_dim()->set_dim_value(shape[a]);
  }
}

Shape with_batch(const Shape& s) {
  Shape r = {1};
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

}  // namespace

void export_onnx(ModelBase<float>& model, const std::string& path) {
  model.require_built("export_onnx");
  check_output_path(path, "ONNX file");
  onnx::ModelProto proto;
  proto.set_ir_version(8);  // the IR of opset 17 (ONNX 1.12)
  proto.set_producer_name("sepconv");
  proto.set_producer_version("0.1.0");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name(model.name());
  Exporter exporter(graph);
  GraphBuilder& io = exporter.builder();
  Value out;
  Shape input_shape;
  if (auto* seq = dynamic_cast<Sequential<float>*>(&model)) {
    input_shape = with_batch(seq->input_shape());
    Value v{input_shape, "input", ""};
    for (const auto& layer : seq->layers()) {
      std::vector<Value> in = {v};
      Shape s = layer->compute_output_shape(v.shape);
      s[0] = 1;
      v = exporter.layer(*layer, in, s);
    }
    out = v;
  } else if (auto* fn = dynamic_cast<Model<float>*>(&model)) {
    if (fn->inputs().size() != 1 || fn->outputs().size() != 1)
      throw ValueError(fmt::format("export_onnx: model '{}' has {} inputs and {} outputs; only one of each is exported",
                                   model.name(), fn->inputs().size(), fn->outputs().size()));
    std::map<std::pair<const Node<float>*, int64_t>, Value> values;
    auto shape_of = [](const KerasTensor<float>& t) { return t.probe().shape(); };
    const KerasTensor<float>& input = fn->inputs()[0];
    input_shape = shape_of(input);
    values[{input.node().get(), input.index()}] = Value{input_shape, "input", ""};
    for (const auto& node : fn->nodes()) {
      if (node->layer->class_name() == "InputLayer") continue;
      std::vector<Value> in;
      for (const auto& t : node->inputs) in.push_back(values.at({t.node().get(), t.index()}));
      if (node->output_probes.size() != 1)
        unsupported(*node->layer, fmt::format("{} outputs (only one is exported)", node->output_probes.size()));
      Value v = exporter.layer(*node->layer, in, node->output_probes[0].shape());
      // A conversion made for one consumer serves the next too.
      for (size_t i = 0; i < node->inputs.size(); ++i)
        values[{node->inputs[i].node().get(), node->inputs[i].index()}] = in[i];
      values[{node.get(), 0}] = v;
    }
    const KerasTensor<float>& output = fn->outputs()[0];
    out = values.at({output.node().get(), output.index()});
  } else {
    throw ValueError(fmt::format("export_onnx: model '{}' of class {} is neither Sequential nor functional", model.name(),
                                 model.class_name()));
  }
  // Sequential reuses the Value it passed in, so conversions carry over by themselves.
  std::string result = io.keras(out);
  io.node("Identity", {result}, "output");
  set_value_info(graph->add_input(), "input", input_shape);
  set_value_info(graph->add_output(), "output", out.shape);
  std::string bytes;
  if (!proto.SerializeToString(&bytes))
    throw IOError(fmt::format("export_onnx: could not serialize model '{}' for '{}'", model.name(), path));
  write_file_atomic(path, std::string_view(bytes));
}

}  // namespace sepconv
