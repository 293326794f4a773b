#include "childfirst/policy.h"
