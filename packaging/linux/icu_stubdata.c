/* An empty ICU common-data table, exported under the name Qt's ICU (73) looks for: icudt73_dat.
 *
 * Why: libicudata is 31 MB of locale tables (collation, legacy codecs, locale-specific case rules) that Parley's
 * English UI never asks for, yet libQt6Core links ICU, so the library must exist. This is the same idea as ICU's
 * own "stubdata" library: a valid table of contents with zero entries. ICU lookups then report a missing
 * resource and Qt falls back to its built-in Unicode tables (text layout, UTF-8/16, case mapping of the C locale
 * are all Qt's own). packaging/build only uses it when it can compile it; --keep-icu-data keeps the real one.
 */
#include <stdint.h>

#ifndef ICU_MAJOR
#define ICU_MAJOR 73
#endif
#define PASTE(a, b, c) a##b##c
#define ENTRY(major) PASTE(icudt, major, _dat)

typedef struct {
    uint16_t size;
    uint16_t reservedWord;
    uint8_t isBigEndian;
    uint8_t charsetFamily;
    uint8_t sizeofUChar;
    uint8_t reservedByte;
    uint8_t dataFormat[4];
    uint8_t formatVersion[4];
    uint8_t dataVersion[4];
} DataInfo;

typedef struct {
    uint16_t headerSize;
    uint8_t magic1;
    uint8_t magic2;
    DataInfo info;
    char padding[8];
    uint32_t count;
    uint32_t reserved;
    uint32_t toc[2];
} StubData;

__attribute__((visibility("default"), aligned(16))) const StubData ENTRY(ICU_MAJOR) = {
    32, 0xda, 0x27,
    {sizeof(DataInfo), 0, 0 /* little endian */, 0 /* ASCII family */, 2, 0,
     {0x54, 0x6f, 0x43, 0x50} /* "ToCP" */, {1, 0, 0, 0}, {0, 0, 0, 0}},
    {0, 0, 0, 0, 0, 0, 0, 0},
    0, 0, {0, 0},
};
