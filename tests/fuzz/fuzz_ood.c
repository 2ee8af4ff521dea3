/* Fuzz harness: the .ood threshold file reader (src/ood/ood_threshold.c ood_threshold_load),
 * on one file per input. See fuzz_common.h. */
#include "fuzz_common.h"
#include "ood_threshold.h"

static void load(void *path)
{
    ood_threshold t;
    char err[512];
    ood_threshold_load((const char *)path, &t, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(load, (void *)fuzz_write_file(0, data, size));
    return 0;
}
