// t2a-edge native ExecuTorch runner: loads one .pte program with the C++ runtime an app links
// (no Python) and serves its methods over stdin/stdout, so the Python sampling loop, or any
// other caller, can drive it. Build: CMakeLists.txt beside this file; the Python side is
// t2a_edge.apps.native.
//
// Frames, all integers little-endian as on every ExecuTorch target:
//   request   u32 name length, name, u32 inputs, then per tensor: i32 dtype (ExecuTorch's
//             ScalarType: 6 float32, 4 int64), u32 rank, i64 sizes[rank], the raw data
//   reply     u8 status; 0: u32 outputs, the tensors as above, f64 microseconds spent in execute;
//             1: u32 length and an error message
// On start the runner loads every method (a missing operator only shows then) and sends one
// reply: status 0 with no tensors, or 1 and exits.
#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using executorch::aten::ScalarType;
using executorch::extension::Module;
using executorch::extension::TensorPtr;
using executorch::extension::make_tensor_ptr;
using executorch::runtime::EValue;

namespace {

bool read_exact(void* out, size_t bytes) { return bytes == 0 || std::fread(out, 1, bytes, stdin) == bytes; }
void write_bytes(const void* data, size_t bytes) { std::fwrite(data, 1, bytes, stdout); }
template <typename T> bool read_value(T& value) { return read_exact(&value, sizeof(T)); }
template <typename T> void write_value(T value) { write_bytes(&value, sizeof(T)); }

size_t element_size(int32_t dtype) {
  switch (static_cast<ScalarType>(dtype)) {
    case ScalarType::Float: return 4;
    case ScalarType::Long: return 8;
    case ScalarType::Int: return 4;
    case ScalarType::Bool: return 1;
    default: return 0;
  }
}

void reply_error(const std::string& message) {
  write_value<uint8_t>(1);
  write_value<uint32_t>(static_cast<uint32_t>(message.size()));
  write_bytes(message.data(), message.size());
  std::fflush(stdout);
}

struct Input {
  std::vector<uint8_t> data;
  TensorPtr tensor;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PROGRAM.pte  (then frames on stdin; see the source)\n", argv[0]);
    return 2;
  }
  Module module(argv[1], Module::LoadMode::Mmap);
  auto names = module.method_names();
  if (!names.ok()) {
    reply_error(std::string("cannot load program ") + argv[1]);
    return 1;
  }
  for (const auto& name : *names) {
    if (module.load_method(name) != executorch::runtime::Error::Ok) {
      reply_error("cannot load method " + name + " of " + argv[1] + " (a missing operator or kernel)");
      return 1;
    }
  }
  write_value<uint8_t>(0);
  write_value<uint32_t>(0);
  write_value<double>(0.0);
  std::fflush(stdout);

  for (;;) {
    uint32_t name_length = 0;
    if (!read_value(name_length)) return 0;  // the caller closed the pipe: done
    std::string name(name_length, '\0');
    uint32_t count = 0;
    if (!read_exact(name.data(), name_length) || !read_value(count)) return 1;
    std::vector<Input> inputs(count);
    for (auto& input : inputs) {
      int32_t dtype = 0;
      uint32_t rank = 0;
      if (!read_value(dtype) || !read_value(rank)) return 1;
      std::vector<int64_t> sizes(rank);
      if (!read_exact(sizes.data(), rank * sizeof(int64_t))) return 1;
      size_t numel = 1;
      for (auto s : sizes) numel *= static_cast<size_t>(s);
      size_t bytes = numel * element_size(dtype);
      input.data.resize(bytes);
      if (!read_exact(input.data.data(), bytes)) return 1;
      if (element_size(dtype) == 0) continue;  // refused below, after the whole frame is read
      std::vector<executorch::aten::SizesType> shape(sizes.begin(), sizes.end());
      input.tensor = make_tensor_ptr(std::move(shape), input.data.data(), static_cast<ScalarType>(dtype));
    }
    std::vector<EValue> values;
    bool known = true;
    for (auto& input : inputs) {
      known = known && input.tensor != nullptr;
      if (input.tensor) values.emplace_back(input.tensor);
    }
    if (!known) {
      reply_error("an input has a dtype this runner does not take (float32, int64, int32, bool)");
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    auto result = module.execute(name, values);
    double micros = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (!result.ok()) {
      reply_error("method " + name + " failed (error " + std::to_string(static_cast<int>(result.error())) + ")");
      continue;
    }
    std::vector<executorch::aten::Tensor> outputs;
    for (const auto& value : *result) {
      if (value.isTensor()) outputs.push_back(value.toTensor());
    }
    write_value<uint8_t>(0);
    write_value<uint32_t>(static_cast<uint32_t>(outputs.size()));
    for (const auto& tensor : outputs) {
      write_value<int32_t>(static_cast<int32_t>(tensor.scalar_type()));
      write_value<uint32_t>(static_cast<uint32_t>(tensor.dim()));
      for (auto s : tensor.sizes()) write_value<int64_t>(s);
      write_bytes(tensor.const_data_ptr(), tensor.nbytes());
    }
    write_value<double>(micros);
    std::fflush(stdout);
  }
}
