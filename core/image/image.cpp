#include "core/image/image.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace genfill {

void keep_pictures_off_the_heap() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // also stops the threshold from moving
#endif
}

Image::Image(int w, int h) : width(w), height(h), pixels(size_t(w > 0 ? w : 0) * size_t(h > 0 ? h : 0) * 4, 0) {}

Mask::Mask(int w, int h, uint8_t fill)
    : width(w), height(h), values(size_t(w > 0 ? w : 0) * size_t(h > 0 ? h : 0), fill) {}

}  // namespace genfill
