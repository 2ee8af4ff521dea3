/* Fuzz harness: the .data reader (read_data_cfg) and the keys the classifier commands look
 * up in it, on one .data file per input. See fuzz_common.h. */
#include "darknet.h"
#include "option_list.h"
#include "fuzz_common.h"

static void read_data(void *path)
{
    list *options = read_data_cfg((char *)path);
    option_find_int(options, "classes", 2);
    option_find_int(options, "top", 1);
    option_find_str(options, "train", "data/train.list");
    option_find_str(options, "valid", "data/train.list");
    option_find_str(options, "labels", "data/labels.list");
    option_find_str(options, "names", 0);
    option_find_str(options, "backup", "/backup/");
    option_find_float(options, "threshold", 0.5f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(read_data, (void *)fuzz_write_file(0, data, size));
    return 0;
}
