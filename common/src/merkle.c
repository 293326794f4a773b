#include "childfirst/merkle.h"
