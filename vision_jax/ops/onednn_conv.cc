// oneDNN 2-D convolution for XLA:CPU through the XLA FFI: forward, gradient with respect to the
// input and gradient with respect to the weights, float32 or bfloat16 (each call in one type), NHWC
// activations and HWIO weights (as flax.linen.Conv holds them), with strides, explicit padding,
// dilation and feature groups.
//
// Each primitive is created once per shape and kept in a cache. Weights are reordered into the
// layout the primitive prefers only when it differs from HWIO. Scratchpads are owned by each call,
// so XLA may run several convolutions of the same shape at once.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

namespace {

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The geometry of one convolution: NHWC input x, HWIO kernel w (I = C / groups), NHWC output y,
// all of element type `type`.
struct Geometry {
  int64_t n, h, w, c, kh, kw, o, oh, ow, groups;
  int64_t stride[2], pad_lo[2], pad_hi[2], dilation[2];
  dt type;

  std::string Key(const char* kind) const {
    std::string key = std::string(kind) + (type == dt::bf16 ? ",bf16" : ",f32");
    for (int64_t v : {n, h, w, c, kh, kw, o, oh, ow, groups, stride[0], stride[1], pad_lo[0], pad_lo[1],
                      pad_hi[0], pad_hi[1], dilation[0], dilation[1]}) {
      key += "," + std::to_string(v);
    }
    return key;
  }
  // NHWC as oneDNN's logical (N, C, H, W) with strides.
  dnnl::memory::desc Activations(int64_t channels, int64_t height, int64_t width) const {
    return dnnl::memory::desc({n, channels, height, width}, type,
                              dims{height * width * channels, 1, width * channels, channels});
  }
  dnnl::memory::desc Input() const { return Activations(c, h, w); }
  dnnl::memory::desc Output() const { return Activations(o, oh, ow); }
  // HWIO as oneDNN's logical (O, I, KH, KW), or (G, O/G, I/G, KH, KW) with groups; output channel
  // g * (O/G) + j of group g is column g * (O/G) + j of the HWIO kernel.
  dnnl::memory::desc Weights(bool any) const {
    int64_t i = c / groups;
    if (groups == 1) {
      dims logical{o, i, kh, kw};
      return any ? dnnl::memory::desc(logical, type, dnnl::memory::format_tag::any)
                 : dnnl::memory::desc(logical, type, dims{1, o, kw * i * o, i * o});
    }
    dims logical{groups, o / groups, i, kh, kw};
    return any ? dnnl::memory::desc(logical, type, dnnl::memory::format_tag::any)
               : dnnl::memory::desc(logical, type, dims{o / groups, 1, o, kw * i * o, i * o});
  }
  dims Strides() const { return {stride[0], stride[1]}; }
  dims Dilation() const { return {dilation[0] - 1, dilation[1] - 1}; }
  dims PadLo() const { return {pad_lo[0], pad_lo[1]}; }
  dims PadHi() const { return {pad_hi[0], pad_hi[1]}; }
};

dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::convolution_forward::primitive_desc ForwardDesc(const Geometry& g) {
  return dnnl::convolution_forward::primitive_desc(
      Engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, g.Input(), g.Weights(true),
      g.Output(), g.Strides(), g.Dilation(), g.PadLo(), g.PadHi(), UserScratchpad());
}

// A cached primitive with the weights layout it wants and its scratchpad size.
struct Cached {
  dnnl::primitive primitive;
  dnnl::memory::desc weights;
  dnnl::memory::desc scratchpad;
};

template <typename Make>
const Cached& Lookup(const std::string& key, Make make) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::unique_ptr<Cached>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[key];
  if (!slot) slot = std::make_unique<Cached>(make());
  return *slot;
}

const Cached& Forward(const Geometry& g) {
  return Lookup(g.Key("fwd"), [&] {
    auto pd = ForwardDesc(g);
    return Cached{dnnl::convolution_forward(pd), pd.weights_desc(), pd.scratchpad_desc()};
  });
}

const Cached& BackwardData(const Geometry& g) {
  return Lookup(g.Key("bwd_data"), [&] {
    auto pd = dnnl::convolution_backward_data::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, g.Input(), g.Weights(true), g.Output(), g.Strides(),
        g.Dilation(), g.PadLo(), g.PadHi(), ForwardDesc(g), UserScratchpad());
    return Cached{dnnl::convolution_backward_data(pd), pd.weights_desc(), pd.scratchpad_desc()};
  });
}

const Cached& BackwardWeights(const Geometry& g) {
  return Lookup(g.Key("bwd_weights"), [&] {
    auto pd = dnnl::convolution_backward_weights::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, g.Input(), g.Weights(true), g.Output(), g.Strides(),
        g.Dilation(), g.PadLo(), g.PadHi(), ForwardDesc(g), UserScratchpad());
    return Cached{dnnl::convolution_backward_weights(pd), pd.diff_weights_desc(), pd.scratchpad_desc()};
  });
}

// Runs `primitive` with `args` plus a scratchpad owned by this call.
void Execute(const Cached& cached, dnnl::stream& stream, std::unordered_map<int, dnnl::memory> args) {
  dnnl::memory scratchpad(cached.scratchpad, Engine());
  args[DNNL_ARG_SCRATCHPAD] = scratchpad;
  cached.primitive.execute(stream, args);
}

// The user's HWIO weights as the primitive wants them (a reorder only when the layouts differ).
dnnl::memory PreferredWeights(const Cached& cached, const Geometry& g, void* data, dnnl::stream& stream) {
  dnnl::memory user(g.Weights(false), Engine(), data);
  if (cached.weights == user.get_desc()) return user;
  dnnl::memory preferred(cached.weights, Engine());
  dnnl::reorder(user, preferred).execute(stream, user, preferred);
  return preferred;
}

template <ffi::DataType T>
Geometry MakeGeometry(ffi::Span<const int64_t> x, ffi::Span<const int64_t> w, ffi::Span<const int64_t> y,
                      ffi::Span<const int64_t> strides, ffi::Span<const int64_t> padding,
                      ffi::Span<const int64_t> dilation, int64_t groups) {
  return Geometry{x[0], x[1], x[2], x[3], w[0], w[1], w[3], y[1], y[2], groups,
                  {strides[0], strides[1]}, {padding[0], padding[2]}, {padding[1], padding[3]},
                  {dilation[0], dilation[1]}, T == ffi::DataType::BF16 ? dt::bf16 : dt::f32};
}

template <typename Body>
ffi::Error Guarded(Body body) {
  try {
    body();
    return ffi::Error::Success();
  } catch (const dnnl::error& e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN convolution: ") + e.what());
  }
}

// Runs `cached` (forward or backward-data) on one activation tensor and the weights into another:
// the two entry points differ only in which of x and y is read and which written.
void ExecuteWithWeights(const Cached& cached, const Geometry& g, void* weights_data, int in_arg,
                        const dnnl::memory::desc& in_desc, void* in, int out_arg,
                        const dnnl::memory::desc& out_desc, void* out) {
  dnnl::stream stream(Engine());
  dnnl::memory weights = PreferredWeights(cached, g, weights_data, stream);
  Execute(cached, stream, {{in_arg, dnnl::memory(in_desc, Engine(), in)},
                           {DNNL_ARG_WEIGHTS, weights},
                           {out_arg, dnnl::memory(out_desc, Engine(), out)}});
  stream.wait();
}

template <ffi::DataType T>
ffi::Error ForwardImpl(ffi::Buffer<T> x, ffi::Buffer<T> w, ffi::ResultBuffer<T> y,
                       ffi::Span<const int64_t> strides, ffi::Span<const int64_t> padding,
                       ffi::Span<const int64_t> dilation, int64_t groups) {
  return Guarded([&] {
    Geometry g = MakeGeometry<T>(x.dimensions(), w.dimensions(), y->dimensions(), strides, padding, dilation, groups);
    ExecuteWithWeights(Forward(g), g, w.untyped_data(), DNNL_ARG_SRC, g.Input(), x.untyped_data(),
                       DNNL_ARG_DST, g.Output(), y->untyped_data());
  });
}

template <ffi::DataType T>
ffi::Error BackwardDataImpl(ffi::Buffer<T> dy, ffi::Buffer<T> w, ffi::ResultBuffer<T> dx,
                            ffi::Span<const int64_t> strides, ffi::Span<const int64_t> padding,
                            ffi::Span<const int64_t> dilation, int64_t groups) {
  return Guarded([&] {
    Geometry g = MakeGeometry<T>(dx->dimensions(), w.dimensions(), dy.dimensions(), strides, padding, dilation, groups);
    ExecuteWithWeights(BackwardData(g), g, w.untyped_data(), DNNL_ARG_DIFF_DST, g.Output(), dy.untyped_data(),
                       DNNL_ARG_DIFF_SRC, g.Input(), dx->untyped_data());
  });
}

template <ffi::DataType T>
ffi::Error BackwardWeightsImpl(ffi::Buffer<T> x, ffi::Buffer<T> dy, ffi::ResultBuffer<T> dw,
                               ffi::Span<const int64_t> strides, ffi::Span<const int64_t> padding,
                               ffi::Span<const int64_t> dilation, int64_t groups) {
  return Guarded([&] {
    Geometry g = MakeGeometry<T>(x.dimensions(), dw->dimensions(), dy.dimensions(), strides, padding, dilation, groups);
    const Cached& cached = BackwardWeights(g);
    dnnl::stream stream(Engine());
    dnnl::memory user(g.Weights(false), Engine(), dw->untyped_data());
    bool reorder = !(cached.weights == user.get_desc());
    dnnl::memory out = reorder ? dnnl::memory(cached.weights, Engine()) : user;
    Execute(cached, stream, {{DNNL_ARG_SRC, dnnl::memory(g.Input(), Engine(), x.untyped_data())},
                             {DNNL_ARG_DIFF_DST, dnnl::memory(g.Output(), Engine(), dy.untyped_data())},
                             {DNNL_ARG_DIFF_WEIGHTS, out}});
    if (reorder) dnnl::reorder(out, user).execute(stream, out, user);
    stream.wait();
  });
}

}  // namespace

#define CONV_ATTRS                                      \
  .Attr<ffi::Span<const int64_t>>("strides")            \
      .Attr<ffi::Span<const int64_t>>("padding")        \
      .Attr<ffi::Span<const int64_t>>("dilation")       \
      .Attr<int64_t>("groups")

// One handler per entry point and element type: two inputs, one result, the geometry attributes.
#define CONV_HANDLER(name, impl, type)                                                       \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(name, impl<type>,                                            \
                                ffi::Ffi::Bind()                                             \
                                    .Arg<ffi::Buffer<type>>()                                \
                                    .Arg<ffi::Buffer<type>>()                                \
                                    .Ret<ffi::Buffer<type>>() CONV_ATTRS);

CONV_HANDLER(OnednnConvForward, ForwardImpl, ffi::F32)
CONV_HANDLER(OnednnConvBackwardData, BackwardDataImpl, ffi::F32)
CONV_HANDLER(OnednnConvBackwardWeights, BackwardWeightsImpl, ffi::F32)
CONV_HANDLER(OnednnConvForwardBf16, ForwardImpl, ffi::BF16)
CONV_HANDLER(OnednnConvBackwardDataBf16, BackwardDataImpl, ffi::BF16)
CONV_HANDLER(OnednnConvBackwardWeightsBf16, BackwardWeightsImpl, ffi::BF16)
