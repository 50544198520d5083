/* Score image files with a trained detector through libshiftad's C API, printing
 * `path,score,normalised_score,anomalous` (the rows of `shiftad score`'s CSV, a path
 * quoted as there: RFC 4180) for every file scored: the score and the run's decision.
 *
 *   score_c RUN_DIR IMAGE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiftad/shiftad_c.h"

/* `value` as one CSV field, as `shiftad score` writes it (RFC 4180): in double quotes,
 * its quotes doubled, when it holds a comma, a double quote, CR or LF. */
static void print_field(const char* value) {
  const char* c;
  if (strpbrk(value, ",\"\r\n") == NULL) {
    fputs(value, stdout);
    return;
  }
  putchar('"');
  for (c = value; *c != '\0'; ++c) {
    if (*c == '"') putchar('"');
    putchar(*c);
  }
  putchar('"');
}

int main(int argc, char** argv) {
  shiftad_detector* detector;
  shiftad_result* results;
  size_t count, i;
  int status;

  if (argc < 3) {
    fprintf(stderr, "usage: %s RUN_DIR IMAGE...\n", argv[0]);
    return 2;
  }
  shiftad_set_threads(0); /* all cores, as the `shiftad` command */
  detector = shiftad_load(argv[1]);
  if (detector == NULL) {
    fprintf(stderr, "error: %s\n", shiftad_last_error());
    return 1;
  }
  count = (size_t)(argc - 2);
  results = (shiftad_result*)malloc(count * sizeof(shiftad_result));
  if (results == NULL) {
    shiftad_free(detector);
    return 1;
  }
  status = shiftad_score_files(detector, (const char* const*)(argv + 2), count, results);
  if (status != SHIFTAD_OK) {
    fprintf(stderr, "error: %s\n", shiftad_last_error());
  } else {
    printf("path,score,normalised_score,anomalous\n");
    for (i = 0; i < count; ++i) {
      if (results[i].scored) {
        print_field(argv[2 + i]);
        printf(",%.9g,", results[i].score);
        /* A run without a calibration has no decision: NaN (x != x), and empty fields. */
        if (results[i].normalised_score == results[i].normalised_score)
          printf("%.6f,%d\n", results[i].normalised_score, results[i].anomalous ? 1 : 0);
        else
          printf(",\n");
      } else
        fprintf(stderr, "skipped (unreadable): %s\n", argv[2 + i]);
    }
  }
  free(results);
  shiftad_free(detector);
  return status == SHIFTAD_OK ? 0 : 1;
}
