#include "childfirst/referral.h"
