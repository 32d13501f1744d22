/* ntdll.dll */
NTSTATUS NtQuerySystemTime(LARGE_INTEGER *SystemTime);
NTSTATUS RtlGetVersion(RTL_OSVERSIONINFOW *lpVersionInformation);
ULONG RtlNtStatusToDosError(NTSTATUS Status);
NTSTATUS NtQueryInformationThread(HANDLE ThreadHandle, THREADINFOCLASS ThreadInformationClass,
                                  PVOID ThreadInformation, ULONG ThreadInformationLength,
                                  ULONG *ReturnLength);
NTSTATUS NtQueryInformationFile(HANDLE FileHandle, IO_STATUS_BLOCK *IoStatusBlock,
                                PVOID FileInformation, ULONG Length,
                                FILE_INFORMATION_CLASS FileInformationClass);
NTSTATUS NtQueryInformationProcess(HANDLE ProcessHandle, PROCESSINFOCLASS ProcessInformationClass,
                                   PVOID ProcessInformation, ULONG ProcessInformationLength,
                                   ULONG *ReturnLength);
const char *wine_get_version(void);  /* Wine only: absent on Windows */
