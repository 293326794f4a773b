#include "childfirst/wire.h"
