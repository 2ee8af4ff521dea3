/* Fuzz harness: the list readers of classifier training, on a labels file and an image list
 * in one input, separated by the first line "%%": get_paths for both, get_labels_checked on
 * the labels (classes = its line count) and class_counts_of_paths, which gives every image
 * its class by its folder or file name. Without "%%" the input is the list and the labels
 * are "cat" and "dog". See fuzz_common.h. */
#include <string.h>

#include "darknet.h"
#include "fuzz_common.h"

static const char *paths[2];   /* labels file, list file */

static void read_lists(void *unused)
{
    list *plist = get_paths((char *)paths[0]);
    int k = plist->size, n, *path_class;
    char **labels, **images;
    if (k == 0) return;
    labels = get_labels_checked((char *)paths[0], k);
    plist = get_paths((char *)paths[1]);
    n = plist->size;
    images = (char **)list_to_array(plist);
    path_class = calloc(n ? n : 1, sizeof(int));
    class_counts_of_paths(images, n, labels, k, path_class);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t labels = size, i;   /* bytes of the labels part; size: no "%%" line */
    if (size >= 3 && memcmp(data, "%%\n", 3) == 0) labels = 0;
    for (i = 0; labels == size && i + 4 <= size; ++i)
        if (memcmp(data + i, "\n%%\n", 4) == 0) labels = i + 1;
    if (labels < size) {
        paths[0] = fuzz_write_file(0, data, labels);
        paths[1] = fuzz_write_file(1, data + labels + 3, size - labels - 3);
    } else {
        paths[0] = fuzz_write_file(0, (const uint8_t *)"cat\ndog\n", 8);
        paths[1] = fuzz_write_file(1, data, size);
    }
    fuzz_run(read_lists, 0);
    return 0;
}
