/* Symbol visibility for libxpc. The library is built with hidden
 * visibility; only what is marked XPC_EXPORT is part of its ABI. */
#ifndef XPC_EXPORT_H
#define XPC_EXPORT_H

#define XPC_EXPORT __attribute__((visibility("default")))

#endif
