"""Text normalisation shared by the rule matcher and the model, so both see the same units.

Customers write simplified and traditional Chinese, full-width characters, curly quotes and
mixed scripts; folding all of that first lets one rule list and one model serve every variant.
A *unit* is one Han character or one Latin/digit word: Chinese phrases are matched per
character and English phrases per word, over the same unit sequence.
"""

from __future__ import annotations

import re
import unicodedata

# Traditional -> simplified for the characters support conversations actually use.
_TRAD_SIMP = (
    "錢钱帳账賬账號号碼码們们機机丟丢個个過过還还沒没時时給给額额體体驗验證证戶户綁绑換换"
    "鎖锁凍冻結结轉转費费補补開开閃闪應应務务態态訴诉積积動动匯汇單单訂订問问題题請请"
    "謝谢說说話话電电買买賣卖錯错誤误顯显現现餘余處处嗎吗麼么為为從从這这裡里會会經经無无"
    "錄录憑凭詐诈騙骗盜盗竊窃異异陸陆銀银幫帮給给讓让無无關关於于後后發发當当點点對对"
    "將将與与義义產产廣广東东車车長长門门見见貝贝學学寫写實实進进運运還还邊边達达遠远選选"
    "連连遲迟適适遞递郵邮鄰邻醫医針针鐘钟鑰钥閱阅隊队際际險险隨随雙双離离難难雲云靈灵頁页"
    "項项順顺須须預预領领頻频顧顾風风飛飞飯饭館馆馬马騷骚驟骤髮发鬧闹魚鱼鳥鸟麥麦黃黄齊齐"
    "齒齿龍龙龜龟壞坏変变態态憂忧戰战據据擊击擔担擬拟擴扩攜携敗败數数斷断於于昇升暫暂"
    "樂乐標标樣样權权歡欢歲岁歷历殘残氣气決决況况減减測测淨净濟济滿满漢汉潤润災灾為为無无"
    "熱热爭争爾尔獨独獲获現现環环產产畫画異异當当療疗發发盡尽監监盤盘確确禮礼種种稱称穩稳"
    "窮穷競竞筆笔節节範范簡简糧粮級级紀纪約约紅红納纳紙纸紛纷細细終终組组絕绝統统絲丝綫线"
    "網网緊紧線线練练總总績绩織织繼继續续罰罚聯联聲声職职聽听腦脑萬万藥药蘭兰處处號号"
    "蟲虫術术衛卫裝装製制複复規规視视親亲覺觉觀观訊讯訓训託托記记設设許许訪访診诊詞词試试"
    "詢询該该詳详認认誠诚語语課课調调談谈請请論论諮咨謊谎證证識识譯译護护讀读變变讚赞貨货"
    "質质購购貸贷貼贴資资賠赔賬账賺赚贈赠趕赶車车軟软載载輕轻輸输辦办農农這这連连週周進进"
    "遊游運运過过達达違违遺遗邊边鄉乡醜丑釋释鐵铁鎊镑長长閉闭間间闆板陣阵陳陈陰阴隱隐雜杂"
    "離离雞鸡難难電电響响頭头題题額额顏颜類类飯饭養养館馆騰腾驗验鬆松麗丽點点黨党齡龄儲储"
    "優优價价億亿傳传傷伤僅仅債债備备償偿兌兑內内兩两冊册劃划劑剂勞劳勢势區区協协卻却"
    "參参嚴严團团圖图國国圍围場场塊块壓压夠够夥伙奪夺婦妇嬰婴孫孙寶宝審审導导屆届層层嶺岭"
    "廳厅彈弹彙汇徑径從从復复徵征愛爱憶忆掃扫揚扬換换損损搶抢擁拥擇择擾扰攤摊敵敌夢梦"
)
_TRANSLATE = {ord(a): b for a, b in zip(_TRAD_SIMP[0::2], _TRAD_SIMP[1::2], strict=True)}
_TRANSLATE.update({ord("\u2019"): "'", ord("\u2018"): "'", ord("`"): "'"})
# 帐 for 账 (转帐, 帐户) is an old variant customers still type: one spelling for the rules.
_TRANSLATE[ord("帐")] = "账"

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT = re.compile(rf"[{HAN}]|[a-z0-9]+(?:'[a-z]+)*")
_HAN_CHAR = re.compile(rf"[{HAN}]")
_TOP_UP = re.compile(r"\btop-?(ups?)\b")


def normalize(text: str) -> str:
    """NFKC, lower case, traditional folded to simplified, quotes straightened, top-up split."""
    folded = unicodedata.normalize("NFKC", text).lower().translate(_TRANSLATE)
    return _TOP_UP.sub(r"top \1", folded) if "top" in folded else folded


def units(normalized: str) -> list[str]:
    """Han characters and Latin/digit words; apostrophes dropped so don't == dont."""
    return [u.replace("'", "") for u in _UNIT.findall(normalized)]


def is_han(unit: str) -> bool:
    return _HAN_CHAR.match(unit) is not None
