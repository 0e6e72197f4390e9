-- bench/api scenario "get": GET one random instance.
dofile(os.getenv("BENCH_LUA_DIR") .. "/api_common.lua")
request = get_instance
