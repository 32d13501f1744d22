/* kernelbase.dll: the address-wait family (Windows 8+; not exported by kernel32). */
BOOL WaitOnAddress(volatile VOID *Address, PVOID CompareAddress, SIZE_T AddressSize,
                   DWORD dwMilliseconds);
void WakeByAddressSingle(PVOID Address);
void WakeByAddressAll(PVOID Address);
