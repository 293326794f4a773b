#include "childfirst/envelope.h"
