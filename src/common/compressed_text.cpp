#include "common/compressed_text.h"

#include <zstd.h>

#include <stdexcept>

namespace skiff {

namespace {
// Level 1: the history is written on the cache's one apply thread, so speed matters more
// than the last bytes (the dictionary does most of the work).
constexpr int kLevel = 1;

struct DecompressContext {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~DecompressContext() { ZSTD_freeDCtx(dctx); }
};
}  // namespace

std::string CompressedText::text() const {
  thread_local DecompressContext context;
  std::string out(size_, '\0');
  size_t n =
      dictionary_
          ? ZSTD_decompress_usingDict(context.dctx, out.data(), out.size(), bytes_.data(),
                                      bytes_.size(), dictionary_->content.data(),
                                      dictionary_->content.size())
          : ZSTD_decompressDCtx(context.dctx, out.data(), out.size(), bytes_.data(), bytes_.size());
  if (ZSTD_isError(n) || n != size_)
    throw std::runtime_error(std::string("corrupt compressed text: ") +
                             (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
  return out;
}

struct TextCompressor::State {
  uint32_t rotateEvery;
  uint32_t sinceRotation = 0;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CDict* cdict = nullptr;  // digested form of `dictionary`, for compression only
  std::shared_ptr<const TextDictionary> dictionary;
  std::string scratch;

  ~State() {
    ZSTD_freeCDict(cdict);
    ZSTD_freeCCtx(cctx);
  }
  void useDictionary(std::string_view text) {
    auto next = std::make_shared<TextDictionary>(TextDictionary{std::string(text)});
    // A dictionary that does not start with zstd's magic number is raw content (a JSON text
    // starts with '{'), which is what this is.
    ZSTD_CDict* digested = ZSTD_createCDict(next->content.data(), next->content.size(), kLevel);
    if (!digested) return;  // out of memory: keep the old one
    ZSTD_freeCDict(cdict);
    cdict = digested;
    dictionary = std::move(next);
    sinceRotation = 0;
  }
};

TextCompressor::TextCompressor(uint32_t rotateEvery) : state_(std::make_unique<State>()) {
  state_->rotateEvery = rotateEvery == 0 ? 1 : rotateEvery;
}

TextCompressor::~TextCompressor() = default;

std::shared_ptr<const CompressedText> TextCompressor::compress(std::string_view text) {
  State& s = *state_;
  if ((!s.dictionary || s.sinceRotation >= s.rotateEvery) && text.size() <= kMaxDictionary)
    s.useDictionary(text);
  ++s.sinceRotation;
  s.scratch.resize(ZSTD_compressBound(text.size()));
  // No dictionary yet only while every text so far was too large to be one.
  size_t n = s.cdict ? ZSTD_compress_usingCDict(s.cctx, s.scratch.data(), s.scratch.size(),
                                                text.data(), text.size(), s.cdict)
                     : ZSTD_compressCCtx(s.cctx, s.scratch.data(), s.scratch.size(), text.data(),
                                         text.size(), kLevel);
  if (ZSTD_isError(n))
    throw std::runtime_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  return std::make_shared<const CompressedText>(s.dictionary, s.scratch.substr(0, n), text.size());
}

}  // namespace skiff
