// Texts kept long and read rarely (the watch cache's history of superseded object states),
// compressed with zstd against a dictionary that is simply a recent text of the same kind.
// Objects of one resource share most of their bytes (field names, images, tolerations,
// managedFields shapes), so a density pod's 4.2 KB of JSON keeps ~0.2 KB this way, against
// ~1.6 KB compressed on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace skiff {

// The raw-content dictionary some compressed texts were made with (immutable; kept alive by
// every text that needs it).
struct TextDictionary {
  std::string content;
};

class CompressedText {
 public:
  CompressedText(std::shared_ptr<const TextDictionary> dictionary, std::string bytes,
                 size_t originalSize)
      : dictionary_(std::move(dictionary)), bytes_(std::move(bytes)), size_(originalSize) {}
  // The original text. Thread-safe. Throws std::runtime_error if the bytes are corrupt
  // (they never leave the process, so only a bug can make them so).
  std::string text() const;
  size_t size() const { return size_; }                     // of the original text
  size_t compressedBytes() const { return bytes_.size(); }  // kept, without the dictionary
  const TextDictionary* dictionary() const { return dictionary_.get(); }

 private:
  std::shared_ptr<const TextDictionary> dictionary_;
  std::string bytes_;
  size_t size_;
};

// Compresses texts of one kind. Not thread-safe: one compressor per producer. The first text
// becomes the dictionary, and every `rotateEvery` compressions the text at hand replaces it,
// so the dictionary follows what the producer sees (an unusual first object costs at most
// one period). Texts larger than kMaxDictionary never become the dictionary.
class TextCompressor {
 public:
  static constexpr size_t kMaxDictionary = 64 * 1024;
  explicit TextCompressor(uint32_t rotateEvery = 1024);
  ~TextCompressor();
  TextCompressor(const TextCompressor&) = delete;
  TextCompressor& operator=(const TextCompressor&) = delete;

  std::shared_ptr<const CompressedText> compress(std::string_view text);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace skiff
