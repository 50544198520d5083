/* shiftad's C API: load a trained detector and score images, from C or any language
 * with a C foreign-function interface (Python's ctypes: examples/score.py).
 *
 * C89-compatible, no C++ types. The detector is an opaque handle over shiftad::Detector
 * (shiftad/Detector.h); libshiftad.so holds both APIs (docs/deploy.md).
 *
 *   shiftad_detector* det = shiftad_load("runs/mug");
 *   if (!det) { fprintf(stderr, "%s\n", shiftad_last_error()); return 1; }
 *   shiftad_image img;  img.width = w; img.height = h; img.stride = 0; img.rgb = pixels;
 *   shiftad_result r;
 *   if (shiftad_score_images(det, &img, 1, &r) != SHIFTAD_OK) ...;
 *   shiftad_free(det);
 *
 * Errors: no function throws or aborts on bad input. A failing call returns NULL or
 * SHIFTAD_ERROR, and shiftad_last_error() gives its message (the path, key or value at
 * fault and what to do). Threads: the last error is kept per thread; calls on one
 * handle are serialised by a lock in the handle (a second thread waits); different
 * handles score in parallel. */
#ifndef SHIFTAD_SHIFTAD_C_H
#define SHIFTAD_SHIFTAD_C_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The status of the functions that return int. */
#define SHIFTAD_OK 0
#define SHIFTAD_ERROR (-1)

/* A trained detector in memory (opaque). */
typedef struct shiftad_detector shiftad_detector;

/* An RGB image in memory: 8 bits per channel, R G B interleaved, rows `stride` bytes
 * apart (0: 3 * width, packed). Read during the call only, never kept. */
typedef struct shiftad_image {
  int width;
  int height;
  size_t stride;
  const unsigned char* rgb;
} shiftad_image;

/* The outcome for one image. Its size is part of the ABI (the library writes arrays of
 * it): the shared library's soname carries the full version (libshiftad.so.MAJOR.MINOR.PATCH),
 * so a program only ever runs with the version whose header it was built with. */
typedef struct shiftad_result {
  /* ||F(x) - c||^2: higher = more anomalous. NaN when `scored` is 0. */
  double score;
  /* 1: scored. 0: an image file that could not be read, skipped (logged). */
  int scored;
  /* The share of the run's calibration normals scoring at or below `score`, in [0, 1]
   * (docs/deploy.md, "What the threshold means"). NaN when not scored, or when the run
   * has no calibration and its data could not be read to make one. */
  double normalised_score;
  /* 1: score > shiftad_threshold(). 0 otherwise (and when not scored). */
  int anomalous;
} shiftad_result;

/* The library's version, "MAJOR.MINOR.PATCH" (static storage). */
const char* shiftad_version(void);

/* The message of the last call on this thread that failed; "" after a call that
 * succeeded (shiftad_version, shiftad_last_error and shiftad_free leave it as it was).
 * Valid until the next shiftad_* call on this thread. */
const char* shiftad_last_error(void);

/* Threads LibTorch may use in this process (0: all cores; at most 1024, else
 * SHIFTAD_ERROR). Debian's LibTorch starts with 1; the `shiftad` command uses all cores
 * unless told otherwise (--threads). Process-wide, for the host too (shiftad::setThreads
 * in shiftad.h says how): glibc's malloc keeps freed memory for reuse (the resident size
 * stays at its peak; scoring runs ~6x faster), OpenBLAS runs on `threads` threads and may
 * be given its kernels for this CPU. A host that needs memory back can set its own
 * mallopt values after this call, or call malloc_trim(0) when idle. */
int shiftad_set_threads(int threads);

/* Log levels of the library's lines (files skipped, fallbacks taken, progress). */
#define SHIFTAD_LOG_INFO 0
#define SHIFTAD_LOG_WARNING 1
#define SHIFTAD_LOG_ERROR 2
#define SHIFTAD_LOG_NONE 3

/* Receives one log line: its level (SHIFTAD_LOG_*) and text (no line break; valid during
 * the call only), with the user_data given to shiftad_set_log. One line at a time, in
 * order: on the thread that logs (any thread calling the library), or, while another
 * thread's callback runs, on that thread after it returns (a thread never waits for
 * another's callback). It may call the library (score a fallback image, say): lines
 * that call logs come to it at once, nested, on its thread. Not on
 * the handle whose call is logging, which that call is using: such a call fails
 * (SHIFTAD_ERROR, or NaN from shiftad_threshold; shiftad_last_error says why), and
 * shiftad_free of it is not allowed. Load the run again for a second handle. */
typedef void (*shiftad_log_callback)(int level, const char* message, void* user_data);

/* Where the library's log lines go, for the whole process: to `callback` (NULL: stderr,
 * the default), those at `min_level` or above (SHIFTAD_LOG_NONE: none). SHIFTAD_ERROR
 * for a level outside [SHIFTAD_LOG_INFO, SHIFTAD_LOG_NONE]. Call it at start-up, before
 * other threads use the library. */
int shiftad_set_log(shiftad_log_callback callback, void* user_data, int min_level);

/* A trained detector from a run directory (written by `shiftad train`) or a directory
 * written by shiftad::Detector::save. NULL on error. Reads the directory once: scoring
 * never reads it again. */
shiftad_detector* shiftad_load(const char* run_dir);

/* Frees the detector; NULL is ignored. The handle is gone after it: a later call with
 * it, a second shiftad_free included, is undefined (as for free()). */
void shiftad_free(shiftad_detector* detector);

/* The side, in pixels, of the square image the network sees (data.image_size). Images
 * of any size are accepted: resized (data.resize) and centre-cropped to it, exactly as
 * image files are. -1 on error. */
int shiftad_input_size(const shiftad_detector* detector);

/* The run's label-free decision threshold: an image is anomalous when its score is
 * above it (set at the end of training from the source normals and the unlabeled
 * target pool; docs/deploy.md). NaN on error (NULL detector) or when the run has no
 * calibration and its data could not be read to make one. */
double shiftad_threshold(shiftad_detector* detector);

/* Scores `count` images in memory into results[0 .. count-1] (every `scored` is 1):
 * the same pixels score as the image file they were decoded from. All or nothing: on
 * SHIFTAD_ERROR (e.g. an image of 0 pixels) `results` is left as it was. */
int shiftad_score_images(shiftad_detector* detector, const shiftad_image* images, size_t count,
                         shiftad_result* results);

/* Scores `count` image files (jpg, jpeg, png, bmp) into results[0 .. count-1], in
 * order. An unreadable file (missing, truncated, not an image) gets scored = 0 and a
 * NaN score, however many there are (the log says why each one failed); the call fails
 * (SHIFTAD_ERROR, `results` left as it was) only for what is not about one file: a
 * NULL argument, a detector that cannot score. From C, a `char**` such as main's argv
 * is passed as `(const char* const*)argv`: C converts it only with the cast (GCC 14
 * refuses it without). */
int shiftad_score_files(shiftad_detector* detector, const char* const* paths, size_t count, shiftad_result* results);

#ifdef __cplusplus
}
#endif

#endif /* SHIFTAD_SHIFTAD_C_H */
