// Store figures (bench/RESULTS.md): bulk create, cold traversal, bytes per object, commit rates vs fsync.

import Store
