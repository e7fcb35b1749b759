/* libFuzzer target: the Range header parser (src/http/http_internal.h).
 * Input: 8 bytes of file size (little endian, often small so ranges hit it),
 * then the header value. A satisfiable answer must lie inside the file. */
#include "http/http_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 4096)
        return 0;
    uint64_t fsize = 0;
    for (int i = 7; i >= 0; i--)
        fsize = fsize << 8 | data[i];
    /* Mostly small files, sometimes the whole 64-bit range. */
    if (!(data[7] & 0x80))
        fsize %= 1u << 20;
    char *value = malloc(size - 8 + 1);
    if (!value)
        abort();
    memcpy(value, data + 8, size - 8);
    value[size - 8] = '\0';

    uint64_t start = 0xdeadbeef, len = 0xdeadbeef;
    int r = http_parse_range(value, fsize, &start, &len);
    if (r == 1) {
        if (len == 0 || start >= fsize || len > fsize - start)
            abort();
    } else if (r != 0 && r != -1) {
        abort();
    }
    free(value);
    return 0;
}
