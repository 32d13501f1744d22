/* bcrypt.dll */
NTSTATUS BCryptGenRandom(PVOID hAlgorithm, UCHAR *pbBuffer, ULONG cbBuffer, ULONG dwFlags);
