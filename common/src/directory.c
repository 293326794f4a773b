#include "childfirst/directory.h"
