// SQLite 3 (public domain), the store's embedded database engine.
#include <sqlite3.h>
