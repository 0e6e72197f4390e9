-- bench/api scenario "list": a page of 100 instances from a random position.
dofile(os.getenv("BENCH_LUA_DIR") .. "/api_common.lua")
request = list_page
