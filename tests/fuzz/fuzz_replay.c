/* main() for a fuzz harness built without libFuzzer (tests/tests.mk): runs each file named
 * on the command line through LLVMFuzzerTestOneInput once, as libFuzzer does when given
 * files, and prints one line per file. A finding kills the process (signal or sanitizer
 * abort), so the replay test sees it as a crash. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"

int main(int argc, char **argv)
{
    int i;
    FILE *out = stdout;
    fuzz_init();
    for (i = 1; i < argc; ++i) {
        FILE *fp = fopen(argv[i], "rb");
        unsigned char *buf;
        long n;
        if (!fp || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0) {
            fprintf(out, "cannot read %s\n", argv[i]);
            return 2;
        }
        rewind(fp);
        buf = malloc(n ? n : 1);
        if (!buf || fread(buf, 1, n, fp) != (size_t)n) {
            fprintf(out, "cannot read %s\n", argv[i]);
            return 2;
        }
        fclose(fp);
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        fprintf(out, "\nreplayed %s\n", argv[i]);
        fflush(out);
    }
    return 0;
}
