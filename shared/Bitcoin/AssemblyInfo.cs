using System.Runtime.CompilerServices;

// Hashing stackallocs small buffers on every call; every one of them is fully written before it is read, so the
// runtime's zeroing is pure overhead on the share-check hot path.
[module: SkipLocalsInit]
