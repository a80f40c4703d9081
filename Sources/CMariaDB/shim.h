// The MariaDB C connector from Debian's libmariadb-dev.
#include <mysql.h>
