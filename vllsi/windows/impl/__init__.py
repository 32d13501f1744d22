"""Windows backends of the portable modules: ``vllsi.windows.impl.<mod>`` implements
``vllsi.<mod>`` with the same function names as ``vllsi.linux.impl.<mod>``."""
